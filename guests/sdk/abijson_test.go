package sdk

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// tricky strings: escapes, HTML characters, control bytes, multi-byte and
// line-separator runes, invalid UTF-8.
var trickyStrings = []string{
	"", "plain", `quote " and \ backslash`, "tab\tnewline\ncr\r", "<b>&amp;</b>",
	"\x00\x01\x1f", "émoji 🙂 ünïcödé", "line\u2028sep\u2029", "bad \xff utf8", "a/b",
}

// TestDecodeSendRequest: whenever the fast decoder accepts an input, it
// gives exactly what encoding/json gives; inputs it refuses are ones the
// fallback must handle.
func TestDecodeSendRequest(t *testing.T) {
	var inputs []string
	for _, s := range trickyStrings {
		r := SendRequest{URL: "json://h/" + s, Title: s, Body: s + s, BodyFormat: "text", NotifyType: "info",
			Notifier: s, Event: "complete", Now: 1700000000, DeadlineMS: -5,
			Attachments: []AttachmentInfo{{ID: 1, Name: s, MIME: "image/png", Size: 123}, {ID: 4294967295, Name: "b"}}}
		b, _ := json.Marshal(r)
		inputs = append(inputs, string(b))
	}
	inputs = append(inputs,
		`{}`, ` { "url" : "x" , "body":"y" } `, `{"url":null,"attachments":null}`,
		`{"url":"\u00e9\u20ac\/\b\f"}`,
		`{"url":"\ud83d\ude42"}`,      // surrogate pair: refused, fallback
		`{"URL":"case"}`,              // case-insensitive key: refused, fallback
		`{"url":"x","extra":{"a":1}}`, // unknown key: refused, fallback
		`{"now":1.5}`, `{"now":1e3}`,  // floats: refused
		`{"url":"x"} trailing`, `{"url":"x"`, `{"url":"x",}`, `[]`, `{"attachments":[{"id":-1}]}`,
	)
	for _, in := range inputs {
		var fast SendRequest
		if !decodeSendRequest([]byte(in), &fast) {
			continue
		}
		var want SendRequest
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Errorf("fast decoder accepted %s, encoding/json: %v", in, err)
			continue
		}
		if !reflect.DeepEqual(fast, want) {
			t.Errorf("%s:\nfast %+v\njson %+v", in, fast, want)
		}
	}
	// The common input must take the fast path.
	var r SendRequest
	if !decodeSendRequest([]byte(inputs[0]), &r) || !decodeSendRequest([]byte(inputs[6]), &r) {
		t.Error("fast path refused a plain SendRequest")
	}
}

// TestAppendSendResultAndHTTPRequest: the encoders write what
// encoding/json writes, byte for byte.
func TestAppendSendResultAndHTTPRequest(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 500; i++ {
		s := trickyStrings[rng.IntN(len(trickyStrings))] + randomString(rng)
		res := SendResult{OK: rng.IntN(2) == 0, Status: StatusSent, Error: s, RetryAfterS: rng.IntN(3) - 1, Permanent: rng.IntN(2) == 0}
		if rng.IntN(2) == 0 {
			res.Info, res.Error = s, ""
		}
		want, _ := json.Marshal(res)
		if got := appendSendResult(nil, res); string(got) != string(want) {
			t.Fatalf("SendResult %+v:\nfast %s\njson %s", res, got, want)
		}
		req := HTTPRequest{Method: "POST", URL: "https://h/" + s, TimeoutMS: rng.IntN(2) * 5000}
		for j := rng.IntN(3); j > 0; j-- {
			req.Headers = append(req.Headers, [2]string{"X-" + s, s})
		}
		want, _ = json.Marshal(req)
		got, _ := marshalHTTPRequest(req)
		if string(got) != string(want) {
			t.Fatalf("HTTPRequest %+v:\nfast %s\njson %s", req, got, want)
		}
	}
	id := uint32(2)
	mp := HTTPRequest{Method: "POST", URL: "u", BodyAttachment: &id, Multipart: []Part{{Name: "f", Attachment: &id}}}
	want, _ := json.Marshal(mp)
	if got, _ := marshalHTTPRequest(mp); string(got) != string(want) {
		t.Fatalf("multipart: %s vs %s", got, want)
	}
}

// TestDecodeHTTPResponseHead matches encoding/json on what the host sends.
func TestDecodeHTTPResponseHead(t *testing.T) {
	for _, in := range []string{
		`{"status":200}`, `{"status":429,"headers":{"retry-after":"30","content-type":"application/json; charset=utf-8"}}`,
		`{"status":204,"headers":{}}`, `{"status":500,"headers":{"x":"a\"b\\c\u003c"}}`, `{"status":200.5}`, `{"status":"200"}`,
	} {
		var fast HTTPResponse
		ok := decodeHTTPResponseHead([]byte(in), &fast)
		var want HTTPResponse
		err := json.Unmarshal([]byte(in), &want)
		if ok && (err != nil || !reflect.DeepEqual(fast, want)) {
			t.Errorf("%s: fast %+v, json %+v (%v)", in, fast, want, err)
		}
		if !ok && strings.HasPrefix(in, `{"status":2`) && !strings.Contains(in, ".") {
			t.Errorf("%s refused", in)
		}
	}
}

func randomString(rng *rand.Rand) string {
	b := make([]byte, rng.IntN(12))
	for i := range b {
		b[i] = byte(rng.IntN(256))
	}
	return string(b)
}
