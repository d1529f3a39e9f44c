package main

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
)

// checkListenAddr returns an error naming variable when addr is not the
// host:port that net.Listen takes, with the fix for a bare port number.
func checkListenAddr(variable, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		if _, numErr := strconv.Atoi(addr); numErr == nil {
			return fmt.Errorf("%s %s is a port without a host: use :%s to listen on every interface, or 127.0.0.1:%s for this machine only", variable, addr, addr, addr)
		}
		return fmt.Errorf("%s %q is invalid (%v): use host:port, such as :8080 or 127.0.0.1:8080", variable, addr, err)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("%s %q has an invalid port %q: use a number from 0 to 65535", variable, addr, port)
	}
	return nil
}

// localURL returns the http:// URL of a listener on this machine at addr,
// a host:port as the listen variables take it. An empty or wildcard host
// is reached on 127.0.0.1, and an addr that is not host:port is used as
// it is.
func localURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// checkHTTPURL returns an error naming variable when value is set but is
// not an absolute http or https URL with a host. The error leaves out the
// value, because webhook URLs often contain a secret token.
func checkHTTPURL(variable, value string) error {
	if value == "" {
		return nil
	}
	const fix = "use an absolute http or https URL, such as https://hooks.example.com/alerts"
	u, err := url.Parse(value)
	switch {
	case err != nil:
		return fmt.Errorf("%s is not a valid URL: %s", variable, fix)
	case u.Scheme == "":
		return fmt.Errorf("%s has no scheme: %s", variable, fix)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%s has the scheme %q: %s", variable, u.Scheme, fix)
	case u.Host == "":
		return fmt.Errorf("%s has no host: %s", variable, fix)
	}
	return nil
}
