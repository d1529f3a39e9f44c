package loadgen

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// CheckLoopback returns an error wrapping ErrRemoteTarget unless rawURL's
// host is localhost or a loopback IP address (127.0.0.0/8 or ::1). Host
// names other than localhost are not resolved, so they are rejected too.
// A comma-separated list, as NATS URLs may be, is checked entry by entry.
func CheckLoopback(rawURL string) error {
	for _, one := range strings.Split(rawURL, ",") {
		one = strings.TrimSpace(one)
		u, err := url.Parse(one)
		if err != nil {
			return fmt.Errorf("URL %q is invalid: %w", one, err)
		}
		host := u.Hostname()
		if host == "" {
			return fmt.Errorf("URL %q has no host: use a URL such as http://127.0.0.1:8080/webhooks/cmc", one)
		}
		if strings.EqualFold(host, "localhost") {
			continue
		}
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("%w: host %s of %q", ErrRemoteTarget, host, one)
		}
	}
	return nil
}
