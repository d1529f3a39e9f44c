package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawServer accepts connections on loopback and hands each to handle,
// which reads requests and writes responses byte for byte.
func rawServer(t *testing.T, handle func(conn net.Conn, reader *bufio.Reader)) string {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				handle(conn, bufio.NewReader(conn))
			}()
		}
	}()
	t.Cleanup(func() {
		listener.Close()
		wg.Wait()
	})
	return "http://" + listener.Addr().String() + "/webhooks/cmc?source=test"
}

// readRequest reads one request and its body, and reports anything that
// the lean client should have written differently.
func readRequest(t *testing.T, reader *bufio.Reader) (*http.Request, []byte, bool) {
	req, err := http.ReadRequest(reader)
	if err != nil {
		return nil, nil, false
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		t.Errorf("read request body: %v", err)
		return nil, nil, false
	}
	return req, body, true
}

func TestLeanClientWritesRequest(t *testing.T) {
	t.Parallel()
	requests := make(chan *http.Request, 2)
	bodies := make(chan []byte, 2)
	url := rawServer(t, func(conn net.Conn, reader *bufio.Reader) {
		for {
			req, body, ok := readRequest(t, reader)
			if !ok {
				return
			}
			requests <- req
			bodies <- body
			_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
		}
	})

	client, err := newLeanClient(url, "application/x-www-form-urlencoded", 5*time.Second)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	defer client.close()

	gen := NewGenerator("test", 0, 1)
	for i := range 2 {
		body := gen.Batch(3, EncodingForm)
		if _, _, err := client.post(context.Background(), body); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
		req, got := <-requests, <-bodies
		if req.Method != http.MethodPost || req.RequestURI != "/webhooks/cmc?source=test" || req.Proto != "HTTP/1.1" {
			t.Errorf("request line = %s %s %s", req.Method, req.RequestURI, req.Proto)
		}
		if !strings.HasPrefix(url, "http://"+req.Host+"/") {
			t.Errorf("Host = %q, want the host of %s", req.Host, url)
		}
		if ct := req.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			t.Errorf("Content-Type = %q", ct)
		}
		if req.ContentLength != int64(len(body)) || !bytes.Equal(got, body) {
			t.Errorf("server read %d bytes (Content-Length %d), want the %d-byte body", len(got), req.ContentLength, len(body))
		}
	}
	if client.dials != 1 {
		t.Errorf("dials = %d, want 1 for two requests on a kept-alive connection", client.dials)
	}
}

func TestLeanClientReadsResponses(t *testing.T) {
	t.Parallel()
	longBody := strings.Repeat("x", maxResponseBody+1000)
	cases := []struct {
		name     string
		response string
		status   int
		result   webhookResult
		// keeps is whether the connection stays open for the next request.
		keeps   bool
		wantErr string
	}{{
		name:     "content length",
		response: withLength("HTTP/1.1 200 OK\r\nContent-Type: application/json", `{"accepted":4,"duplicates":1,"rejected":2}`+"\n"),
		status:   200, result: webhookResult{Accepted: 4, Duplicates: 1, Rejected: 2}, keeps: true,
	}, {
		name:     "header names in any case",
		response: "HTTP/1.1 200 OK\r\ncontent-length: 14\r\nCONNECTION: Keep-Alive\r\n\r\n" + `{"accepted":7}`,
		status:   200, result: webhookResult{Accepted: 7}, keeps: true,
	}, {
		name:     "interim response first",
		response: "HTTP/1.1 100 Continue\r\n\r\n" + withLength("HTTP/1.1 200 OK", `{"accepted":5}`),
		status:   200, result: webhookResult{Accepted: 5}, keeps: true,
	}, {
		name:     "header line longer than 4 KiB",
		response: withLength("HTTP/1.1 200 OK\r\nContent-Security-Policy: "+strings.Repeat("a", 5000), `{"accepted":3}`),
		status:   200, result: webhookResult{Accepted: 3}, keeps: true,
	}, {
		name:     "body in one-byte chunks",
		response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + oneByteChunks(`{"accepted":6,"pad":"`+strings.Repeat("x", 20000)+`"}`) + "0\r\n\r\n",
		status:   200, result: webhookResult{Accepted: 6}, keeps: true,
	}, {
		name:     "chunked with extension and trailer",
		response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nc;name=value\r\n{\"accepted\":\r\n2\r\n9}\r\n0\r\nX-Trailer: 1\r\n\r\n",
		status:   200, result: webhookResult{Accepted: 9}, keeps: true,
	}, {
		name:     "connection close",
		response: withLength("HTTP/1.1 200 OK\r\nConnection: close", `{"accepted":1}`),
		status:   200, result: webhookResult{Accepted: 1}, keeps: false,
	}, {
		name:     "HTTP/1.0 body until close",
		response: "HTTP/1.0 200 OK\r\n\r\n" + `{"accepted":3}`,
		status:   200, result: webhookResult{Accepted: 3}, keeps: false,
	}, {
		name:     "both lengths",
		response: "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\ne\r\n{\"accepted\":6}\r\n0\r\n\r\n",
		status:   200, result: webhookResult{Accepted: 6}, keeps: false,
	}, {
		name:     "error status with long body",
		response: withLength("HTTP/1.1 500 Internal Server Error", longBody),
		status:   500, keeps: true,
	}, {
		name:     "no content",
		response: "HTTP/1.1 204 No Content\r\n\r\n",
		status:   204, keeps: true,
	}, {
		name:     "result in another shape",
		response: withLength("HTTP/1.1 200 OK", `{"Accepted":2,"buffered":1,"note":"a \"b\""}`),
		status:   200, result: webhookResult{Accepted: 2}, keeps: true,
	}, {
		name:     "status line from another protocol",
		response: "SSH-2.0-OpenSSH_9.6\r\n",
		wantErr:  "not an HTTP/1.x status line",
	}, {
		name:     "unsupported transfer coding",
		response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		wantErr:  "Transfer-Encoding",
	}, {
		name:     "invalid content length",
		response: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		wantErr:  "Content-Length",
	}, {
		name:     "short body",
		response: "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n" + `{"accepted":1}`,
		wantErr:  "read body",
	}, {
		name:     "200 without a result",
		response: withLength("HTTP/1.1 200 OK", "ok"),
		keeps:    true,
		wantErr:  "not a webhook result",
	}}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			// The first request gets the case's response, after which the
			// server closes the connection unless the case keeps it. Every
			// later request gets a plain 200.
			var served atomic.Int64
			url := rawServer(t, func(conn net.Conn, reader *bufio.Reader) {
				for {
					if _, _, ok := readRequest(t, reader); !ok {
						return
					}
					if served.Add(1) > 1 {
						_, _ = io.WriteString(conn, withLength("HTTP/1.1 200 OK", `{"accepted":10}`))
						continue
					}
					_, _ = io.WriteString(conn, c.response)
					if !c.keeps {
						return
					}
				}
			})
			client, err := newLeanClient(url, "application/json", 5*time.Second)
			if err != nil {
				t.Fatalf("new client: %v", err)
			}
			defer client.close()

			status, result, err := client.post(context.Background(), []byte(`{}`))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Errorf("post: err = %v, want one mentioning %q", err, c.wantErr)
				}
			} else {
				if err != nil {
					t.Fatalf("post: %v", err)
				}
				if status != c.status || result != c.result {
					t.Errorf("post = %d %+v, want %d %+v", status, result, c.status, c.result)
				}
			}
			if open := client.conn != nil; open != c.keeps {
				t.Errorf("connection open = %v, want %v", open, c.keeps)
			}

			// The next request must work either way: on the same
			// connection, or on a new one.
			status, result, err = client.post(context.Background(), []byte(`{}`))
			if err != nil || status != 200 || result.Accepted != 10 {
				t.Errorf("next post = %d %+v %v, want 200 with 10 accepted", status, result, err)
			}
			wantDials := 1
			if !c.keeps {
				wantDials = 2
			}
			if client.dials != wantDials {
				t.Errorf("dials = %d, want %d", client.dials, wantDials)
			}
		})
	}
}

// withLength completes a response head with the Content-Length of body,
// then adds body.
// oneByteChunks writes body as chunks of one byte each.
func oneByteChunks(body string) string {
	var b strings.Builder
	for i := range len(body) {
		b.WriteString("1\r\n")
		b.WriteByte(body[i])
		b.WriteString("\r\n")
	}
	return b.String()
}

func withLength(head, body string) string {
	return head + "\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

func TestLeanClientRejectsOtherURLs(t *testing.T) {
	t.Parallel()
	for _, url := range []string{"https://127.0.0.1/webhooks/cmc", "http://user:secret@127.0.0.1/", "http:///nohost", "://"} {
		if _, err := newLeanClient(url, "application/json", time.Second); err == nil {
			t.Errorf("newLeanClient(%q) returned no error", url)
		}
	}
}

func TestParseWebhookResultAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()
	bodies := []string{
		`{"accepted":100,"duplicates":0,"rejected":0}` + "\n",
		` { "accepted" : 1 , "duplicates" : 2 , "rejected" : 3 } `,
		`{"accepted":1,"buffered":4}`,
		`{}`,
		`{"rejected":2,"accepted":1,"accepted":5}`,
		`{"ACCEPTED":3}`,
		`{"duplicateſ":7}`,
		`{"accepted":1,"duplicateſ":2,"rejected":0}`,
		`{"accepted":"3"}`,
		`{"accepted":1.5}`,
		`{"accepted":-1}`,
		`{"accepted":01}`,
		`{"accepted":12345678901}`,
		`{"accepted":1,"extra":{"nested":[1,2]}}`,
		`{"accepted":1}{"accepted":2}`,
		`{"accepted":1,}`,
		`{"accepted"`,
		`[1,2]`,
		``,
		`null`,
	}
	for _, body := range bodies {
		got, gotErr := parseWebhookResult([]byte(body))
		var want webhookResult
		wantErr := json.Unmarshal([]byte(body), &want)
		if (gotErr == nil) != (wantErr == nil) {
			t.Errorf("%q: err = %v, encoding/json err = %v", body, gotErr, wantErr)
			continue
		}
		if gotErr == nil && got != want {
			t.Errorf("%q: result = %+v, encoding/json = %+v", body, got, want)
		}
	}
	if _, ok := scanWebhookResult([]byte(bodies[0])); !ok {
		t.Errorf("the bridge's own body %q went to encoding/json instead of the scan", bodies[0])
	}
}

func FuzzParseWebhookResult(f *testing.F) {
	f.Add([]byte(`{"accepted":100,"duplicates":0,"rejected":0}`))
	f.Add([]byte(`{"accepted":1,"buffered":4}`))
	f.Add([]byte(`{"Rejected":2}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, gotErr := parseWebhookResult(body)
		var want webhookResult
		wantErr := json.Unmarshal(body, &want)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%q: err = %v, encoding/json err = %v", body, gotErr, wantErr)
		}
		if gotErr == nil && got != want {
			t.Fatalf("%q: result = %+v, encoding/json = %+v", body, got, want)
		}
	})
}
