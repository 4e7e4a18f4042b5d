package apprise

import (
	"slices"
	"testing"
)

func TestParseWebhook(t *testing.T) {
	tests := []struct {
		raw, url, redacted, method string
		headers                    [][2]string
		params                     [][2]string
		payload                    [][2]string
		err                        bool
	}{
		{raw: "json://example.com", url: "http://example.com/", redacted: "json://example.com/", method: "POST",
			headers: [][2]string{{"Accept", "*/*"}, {"Content-Type", "application/json"}}},
		{raw: "jsons://u:p@example.com:443//a//b/../c/?method=put&+X-Y=z&-q=1&:message=msg", url: "https://example.com/a/c/",
			redacted: "jsons://u:****@example.com:443/a/c/", method: "PUT",
			headers: [][2]string{{"Accept", "*/*"}, {"Content-Type", "application/json"}, {"X-Y", "z"}, {"Authorization", "Basic dTpw"}},
			params:  [][2]string{{"q", "1"}}, payload: [][2]string{{"message", "msg"}}},
		{raw: "json://u@[::1]:8080/p%20q?+content-type=text/plain", url: "http://[::1]:8080/p%20q", redacted: "json://u@[::1]:8080/p%20q",
			method: "POST", headers: [][2]string{{"Accept", "*/*"}, {"content-type", "text/plain"}, {"Authorization", "Basic dTpOb25l"}}},
		{raw: "form://example.com", err: true},
		{raw: "json://bad!host", err: true},
		{raw: "json://example.com?method=TRACE", err: true},
		{raw: "json://example.com?port=70000", err: true},
	}
	for _, tc := range tests {
		w, err := ParseWebhook(tc.raw, "json")
		if tc.err {
			if err == nil {
				t.Errorf("%s: no error", tc.raw)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.raw, err)
			continue
		}
		if got := w.URL(); got != tc.url {
			t.Errorf("%s: URL = %s, want %s", tc.raw, got, tc.url)
		}
		if got := w.Redacted(); got != tc.redacted {
			t.Errorf("%s: Redacted = %s, want %s", tc.raw, got, tc.redacted)
		}
		if w.Method != tc.method {
			t.Errorf("%s: Method = %s, want %s", tc.raw, w.Method, tc.method)
		}
		hs, err := w.RequestHeaders([2]string{"Content-Type", "application/json"})
		if err != nil || !slices.Equal(hs, tc.headers) {
			t.Errorf("%s: headers = %q, %v; want %q", tc.raw, hs, err, tc.headers)
		}
		if got := w.Params.Strings(); !slices.Equal(got, tc.params) && len(got)+len(tc.params) > 0 {
			t.Errorf("%s: params = %q, want %q", tc.raw, got, tc.params)
		}
		if got := w.Payload.Strings(); !slices.Equal(got, tc.payload) && len(got)+len(tc.payload) > 0 {
			t.Errorf("%s: payload = %q, want %q", tc.raw, got, tc.payload)
		}
		if !HasHeader(hs, "ACCEPT") {
			t.Errorf("%s: HasHeader(ACCEPT) false", tc.raw)
		}
	}
}
