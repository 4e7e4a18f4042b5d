package transporttest_test

import (
	"strings"
	"testing"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/runtime"
	"github.com/moonrelay/moonrelay/runtime/transporttest"
)

// TestKitWithEcho drives the echo guest through the kit: its http=yes
// option POSTs the body to the URL's own host, the capture server.
func TestKitWithEcho(t *testing.T) {
	cap := transporttest.NewCapture(t)
	eng := transporttest.Engine(t, nil, transporttest.Guest(t, "../../guests/examples/echo"))
	res, err := transporttest.Send(t, eng, "echo", sdk.SendRequest{URL: "echo://" + cap.Host() + "/hook?http=yes", Title: "T", Body: "hello"},
		runtime.Attachment{Name: "a.txt", MIME: "text/plain", Data: []byte("attached")})
	if err != nil || !res.OK {
		t.Fatalf("send: %v %+v", err, res)
	}
	if !strings.Contains(res.Info, `"a.txt":"attached"`) {
		t.Errorf("attachment not seen by the guest: %s", res.Info)
	}
	transporttest.Golden(t, "testdata/echo.golden", cap.Dump(cap.Last(t)))

	// A fixed host is redirected to the capture server with its Host kept.
	cap2 := transporttest.NewCapture(t)
	cap2.Reply(transporttest.Response{Status: 503, Body: "busy"})
	eng2 := transporttest.Engine(t, map[string]string{"printer.example": cap2.URL}, transporttest.Guest(t, "../../guests/examples/echo"))
	res, err = transporttest.Send(t, eng2, "echo", sdk.SendRequest{URL: "echo://printer.example/x?http=yes", Body: "b"})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if got := cap2.Last(t); !strings.HasPrefix(got.Host, "printer.example") || got.Path != "/x" || string(got.Body) != "b" {
		t.Errorf("redirected request %+v", got)
	}
	_ = res
}
