package main

import (
	"fmt"
	"net"
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
