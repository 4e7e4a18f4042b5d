package sdk_test

import (
	"fmt"
	"time"

	"github.com/moonrelay/moonrelay/guests/sdk"
)

func ExampleParseURL() {
	u, err := sdk.ParseURL("ntfys://me:s3cret@ntfy.example.com/printer?priority=high&+X-Extra=1&-auth=no&:title=subject")
	if err != nil {
		panic(err)
	}
	prio := u.Option("priority", "default")
	tags := u.Option("tags", "printer")
	fmt.Println(u.Scheme, u.User, u.Password, u.HostPort(443), u.Path)
	fmt.Println(prio, tags, u.Headers, u.Params, u.Fields)
	fmt.Println(u.Redacted())
	// Output:
	// ntfys me s3cret ntfy.example.com:443 [printer]
	// high printer map[X-Extra:1] map[auth:no] map[title:subject]
	// ntfys://me:****@ntfy.example.com/printer
}

func ExampleResultForStatus() {
	for _, status := range []int{200, 401, 429, 503} {
		r := sdk.ResultForStatus(status, 30*time.Second, fmt.Sprintf("service answered %d", status))
		fmt.Printf("%d: %s permanent=%v retry_after=%ds\n", status, r.Status, r.Permanent, r.RetryAfterS)
	}
	// Output:
	// 200: sent permanent=false retry_after=0s
	// 401: failed permanent=true retry_after=0s
	// 429: retry permanent=false retry_after=30s
	// 503: retry permanent=false retry_after=30s
}

// A transport registers itself from init; main stays empty.
func ExampleRegisterTransport() {
	sdk.RegisterTransport(sdk.Manifest{
		Name:    "webhook",
		Version: "1.0.0",
		Schemes: []string{"webhook", "webhooks"},
		// The notifier's own host may be contacted (self-hosted service).
		UserHost: true,
	}, sdk.TransportFunc(func(req *sdk.SendRequest) sdk.SendResult {
		u, err := sdk.ParseURL(req.URL)
		if err != nil {
			return sdk.FailPermanent(err.Error())
		}
		scheme := "http"
		if u.Scheme == "webhooks" {
			scheme = "https"
		}
		resp, err := sdk.HTTP(sdk.HTTPRequest{Method: "POST", URL: scheme + "://" + u.HostPort(0) + "/", Body: []byte(req.Body)})
		if err != nil {
			return sdk.Retry(0, err.Error())
		}
		return sdk.ResultForStatus(resp.Status, 0, string(resp.Body))
	}))
	fmt.Println("registered")
	// Output: registered
}
