package reliability

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Cluster is a JetStream cluster of in-process servers with routes on
// loopback. Each node keeps its ports and store across Shutdown and
// Restart, as a real node does across a reboot.
type Cluster struct {
	Name  string
	Nodes []*Node
}

// Node is one server of a Cluster.
type Node struct {
	Name        string
	StoreDir    string
	ClientPort  int
	ClusterPort int
	Server      *server.Server

	clusterName string
	routes      []*url.URL
}

// StartCluster starts size JetStream servers that form one cluster and
// waits until JetStream has a meta leader. The servers stop when the test
// ends.
func StartCluster(tb testing.TB, size int) *Cluster {
	tb.Helper()
	c := &Cluster{Name: "mailbridge-test"}
	clientPorts := freePorts(tb, size)
	clusterPorts := freePorts(tb, size)
	var routes []*url.URL
	for _, port := range clusterPorts {
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))})
	}
	for i := range size {
		c.Nodes = append(c.Nodes, &Node{
			Name:        fmt.Sprintf("n%d", i+1),
			StoreDir:    tb.TempDir(),
			ClientPort:  clientPorts[i],
			ClusterPort: clusterPorts[i],
			clusterName: c.Name,
			routes:      routes,
		})
	}
	// Start all nodes before waiting on any: JetStream needs a quorum of
	// routes before any server is ready.
	for _, n := range c.Nodes {
		n.launch(tb)
	}
	for _, n := range c.Nodes {
		n.waitReady(tb)
	}
	tb.Cleanup(func() {
		for _, n := range c.Nodes {
			n.Shutdown()
		}
	})
	c.WaitMetaLeader(tb, 30*time.Second)
	return c
}

// URLs returns the client URLs of every node, comma-separated, so that a
// client reconnects to whichever node is up.
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		urls[i] = n.URL()
	}
	return strings.Join(urls, ",")
}

// Node returns the node named name, or nil.
func (c *Cluster) Node(name string) *Node {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// WaitMetaLeader waits until a running node reports a JetStream meta
// leader.
func (c *Cluster) WaitMetaLeader(tb testing.TB, timeout time.Duration) {
	tb.Helper()
	waitFor(tb, timeout, "JetStream meta leader", func() bool {
		for _, n := range c.Nodes {
			if n.Running() && n.Server.JetStreamIsClustered() && n.Server.JetStreamIsCurrent() {
				for _, m := range c.Nodes {
					if m.Running() && m.Server.JetStreamIsLeader() {
						return true
					}
				}
			}
		}
		return false
	})
}

// StreamLeader returns the name of the node that leads stream, as stream
// info reports it through js, or "" when there is none yet.
func StreamLeader(ctx context.Context, js jetstream.JetStream, stream string) string {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return ""
	}
	info := s.CachedInfo()
	if info.Cluster == nil {
		return ""
	}
	return info.Cluster.Leader
}

// WaitStreamLeader waits until stream has a leader other than every name
// in not, and returns it.
func WaitStreamLeader(tb testing.TB, js jetstream.JetStream, stream string, timeout time.Duration, not ...string) string {
	tb.Helper()
	var leader string
	waitFor(tb, timeout, "a leader of stream "+stream, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		leader = StreamLeader(ctx, js, stream)
		if leader == "" {
			return false
		}
		for _, name := range not {
			if leader == name {
				return false
			}
		}
		return true
	})
	return leader
}

// URL returns the node's client URL.
func (n *Node) URL() string {
	return "nats://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(n.ClientPort))
}

// Running reports whether the node's server is up.
func (n *Node) Running() bool {
	return n.Server != nil && n.Server.Running()
}

// Shutdown stops the node's server and waits until it is down. Its store
// stays for Restart.
func (n *Node) Shutdown() {
	if n.Server == nil {
		return
	}
	n.Server.Shutdown()
	n.Server.WaitForShutdown()
}

// Restart starts the node again on the same ports and store.
func (n *Node) Restart(tb testing.TB) {
	tb.Helper()
	n.Shutdown()
	n.launch(tb)
	n.waitReady(tb)
}

func (n *Node) launch(tb testing.TB) {
	tb.Helper()
	srv, err := server.NewServer(&server.Options{
		ServerName: n.Name,
		Host:       "127.0.0.1",
		Port:       n.ClientPort,
		JetStream:  true,
		StoreDir:   n.StoreDir,
		Cluster: server.ClusterOpts{
			Name: n.clusterName,
			Host: "127.0.0.1",
			Port: n.ClusterPort,
		},
		Routes: n.routes,
		NoLog:  true,
		NoSigs: true,
	})
	if err != nil {
		tb.Fatalf("configure nats server %s: %v", n.Name, err)
	}
	go srv.Start()
	n.Server = srv
}

func (n *Node) waitReady(tb testing.TB) {
	tb.Helper()
	if !n.Server.ReadyForConnections(30 * time.Second) {
		tb.Fatalf("nats server %s not ready after 30s", n.Name)
	}
}

// Connect opens a connection to every node of c that reconnects forever,
// closed when the test ends.
func (c *Cluster) Connect(tb testing.TB, opts ...nats.Option) *nats.Conn {
	tb.Helper()
	opts = append([]nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(100 * time.Millisecond)}, opts...)
	nc, err := nats.Connect(c.URLs(), opts...)
	if err != nil {
		tb.Fatalf("connect to cluster: %v", err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// freePorts returns count loopback TCP ports that were free a moment ago.
// NOTE: another process may take a port before the server listens on it.
// The server then fails to start, and so does the test.
func freePorts(tb testing.TB, count int) []int {
	tb.Helper()
	ports := make([]int, 0, count)
	var listeners []net.Listener
	for range count {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("find a free port: %v", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range listeners {
		l.Close()
	}
	return ports
}

// waitFor polls condition every 20 ms until it is true, and fails the test
// when timeout passes first.
func waitFor(tb testing.TB, timeout time.Duration, what string, condition func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	ticker := time.NewTicker(20 * time.Millisecond)
	defer ticker.Stop()
	for !condition() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		<-ticker.C
	}
}
