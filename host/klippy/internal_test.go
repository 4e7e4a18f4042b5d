package klippy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

func TestReconnectBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const path = "/home/pi/printer_data/comms/klippy.sock"
		c := New(Options{SocketPath: path})
		var attempts []time.Time
		c.dial = func(ctx context.Context) (net.Conn, error) {
			attempts = append(attempts, time.Now())
			return nil, fmt.Errorf("dial unix %s: %w", path, syscall.ENOENT)
		}
		if err := c.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(16 * time.Second)
		synctest.Wait()
		st, msg := c.State()
		c.Close()
		var gaps []string
		for i := 1; i < len(attempts); i++ {
			gaps = append(gaps, attempts[i].Sub(attempts[i-1]).String())
		}
		want := "250ms 500ms 1s 2s 4s 4s 4s"
		if got := strings.Join(gaps, " "); got != want {
			t.Errorf("gaps between attempts = %s, want %s", got, want)
		}
		wantMsg := "klippy: cannot connect to " + path + ": no such file — is Klipper running, and does [klippy] uds_address match its -a option?"
		if st != StateDisconnected || msg != wantMsg {
			t.Errorf("state = %s %q, want disconnected %q", st, msg, wantMsg)
		}
	})
}

// fakeKlippy answers on one end of a pipe: info says ready, every other
// method gets {} except those in silent, which never get a reply.
func fakeKlippy(t *testing.T, conn net.Conn, silent map[string]bool) {
	sc := bufio.NewScanner(conn)
	sc.Split(splitETX)
	for sc.Scan() {
		var req struct {
			ID     int64  `json:"id"`
			Method string `json:"method"`
		}
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			t.Errorf("bad request %q: %v", sc.Bytes(), err)
			return
		}
		if silent[req.Method] {
			continue
		}
		result := `{}`
		switch req.Method {
		case "info":
			result = `{"state":"ready","state_message":"Printer is ready"}`
		case "objects/subscribe":
			result = `{"eventtime":1.0,"status":{"webhooks":{"state":"ready","state_message":"Printer is ready"}}}`
		}
		fmt.Fprintf(conn, `{"id":%d,"result":%s}`+"\x03", req.ID, result)
	}
}

func TestRequestTimeouts(t *testing.T) {
	tests := []struct {
		name   string
		method string
		ctxTO  time.Duration
		want   time.Duration
	}{
		{"default timeout", "objects/query", 0, 30 * time.Second},
		{"caller's shorter deadline", "objects/query", 5 * time.Second, 5 * time.Second},
		{"gcode/script has no default timeout", "gcode/script", 2 * time.Minute, 2 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := New(Options{SocketPath: "/x"})
				c.dial = func(ctx context.Context) (net.Conn, error) {
					a, b := net.Pipe()
					go fakeKlippy(t, b, map[string]bool{"objects/query": true, "gcode/script": true})
					return a, nil
				}
				if err := c.Start(context.Background()); err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if err := c.WaitReady(context.Background()); err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()
				if tt.ctxTO > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.ctxTO)
					defer cancel()
				}
				start := time.Now()
				_, err := c.Request(ctx, tt.method, map[string]any{"script": "G28"})
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("err = %v, want DeadlineExceeded", err)
				}
				if d := time.Since(start); d != tt.want {
					t.Errorf("gave up after %v, want %v", d, tt.want)
				}
				if want := "klippy: " + tt.method + ": no reply from Klippy: context deadline exceeded"; err.Error() != want {
					t.Errorf("err = %q, want %q", err, want)
				}
			})
		})
	}
}

func TestHammerSubscribeAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New(Options{SocketPath: "/x"})
		push := make(chan net.Conn, 1)
		c.dial = func(ctx context.Context) (net.Conn, error) {
			a, b := net.Pipe()
			push <- b
			go fakeKlippy(t, b, nil)
			return a, nil
		}
		if err := c.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.WaitReady(context.Background()); err != nil {
			t.Fatal(err)
		}
		kl := <-push
		done := make(chan struct{})
		go func() { // Klippy pushes status continuously
			defer close(done)
			for i := range 500 {
				fmt.Fprintf(kl, `{"method":"process_status_update","params":{"eventtime":%d,"status":{"print_stats":{"total_duration":%d}}}}`+"\x03", i, i)
				time.Sleep(time.Millisecond)
			}
		}()
		for range 20 {
			go func() {
				for range 25 {
					s := c.Subscribe(map[string][]string{"print_stats": nil})
					time.Sleep(3 * time.Millisecond)
					s.Close()
				}
			}()
		}
		<-done
		synctest.Wait()
		c.mu.Lock()
		n := len(c.subs)
		c.mu.Unlock()
		if n != 0 {
			t.Errorf("%d subscriptions left after all closed", n)
		}
	})
}
