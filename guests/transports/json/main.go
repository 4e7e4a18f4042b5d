// Command json posts notifications as a JSON document, exactly as Apprise
// 1.9.8's json:// plugin (custom_json.py) does.
//
// URL forms:
//
//	json://[user[:password]@]host[:port][/path]    http
//	jsons://[user[:password]@]host[:port][/path]   https
//
// Options: method=POST|GET|PUT|PATCH|DELETE|HEAD (default POST);
// +Name=value adds a request header; -name=value adds a query parameter to
// the request; :key=value tweaks the payload: for one of the five fields
// (version, title, message, attachments, type) it renames the field to
// value, or removes it when value is empty; any other key adds a string
// field. user:password@ (or ?user=, ?pass=) sends HTTP basic auth.
//
// Request: METHOD http[s]://host[:port]/path[?params] with
// Content-Type: application/json and the body
//
//	{"version": "1.0", "title": "…", "message": "…", "attachments": [], "type": "info"}
//
// encoded as Python's json.dumps does (", " and ": " separators, non-ASCII
// escaped as \uXXXX). Each attachment is {"filename", "base64", "mimetype"}.
// Any 2xx answer counts as sent.
package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"strings"

	"github.com/moonrelay/moonrelay/guests/sdk"
)

func init() {
	sdk.RegisterTransport(sdk.Manifest{
		Name:        "json",
		Version:     "1.0.0",
		Schemes:     []string{"json", "jsons"},
		UserHost:    true,
		Format:      "text",
		TitleMaxLen: 250,
		BodyMaxLen:  32768,
		Attachments: "any",
	}, transport{})
}

func main() {}

type transport struct{}

// Validate checks a notifier URL when the configuration loads.
func (transport) Validate(req *sdk.ValidateRequest) sdk.ValidateResult {
	w, err := parseWebhook(req.URL, "json")
	if err != nil {
		return sdk.ValidateResult{Error: err.Error()}
	}
	return w.validate()
}

// Send delivers one message.
func (transport) Send(req *sdk.SendRequest) sdk.SendResult {
	w, err := parseWebhook(req.URL, "json")
	if err != nil {
		return sdk.FailPermanent(err.Error())
	}
	atts := make([]any, 0, len(req.Attachments))
	for i, a := range req.Attachments {
		data, err := io.ReadAll(sdk.Attachment(a.ID))
		if err != nil {
			return sdk.Fail(fmt.Sprintf("json: attachment %s: %v", a.Name, err))
		}
		atts = append(atts, ordered{
			{"filename", attachmentName(a, i+1)},
			{"base64", base64.StdEncoding.EncodeToString(data)},
			{"mimetype", attachmentMIME(a)},
		})
	}
	notifyType := req.NotifyType
	if notifyType == "" {
		notifyType = "info"
	}
	payload := ordered{
		{"version", "1.0"},
		{"title", req.Title},
		{"message", req.Body},
		{"attachments", atts},
		{"type", notifyType},
	}
	for _, e := range w.payload {
		value := e.val.(string)
		i := payload.index(e.key)
		switch {
		case i < 0:
			payload.set(e.key, value)
		case value == "":
			payload.del(e.key)
		default: // rename: the value moves under the new key, then the old key goes
			v := payload[i].val
			payload.set(value, v)
			payload.del(e.key)
		}
	}
	headers, err := w.requestHeaders([2]string{"Content-Type", "application/json"})
	if err != nil {
		return sdk.FailPermanent("json: " + err.Error())
	}
	return do("json", sdk.HTTPRequest{
		Method:  w.method,
		URL:     withQuery(w.url(), w.params),
		Headers: headers,
		Body:    pyJSON(payload),
	})
}

// pyJSON encodes v as Python's json.dumps does by default: ", " and ": "
// separators, every character outside printable ASCII escaped.
func pyJSON(v any) []byte {
	var b strings.Builder
	writeJSON(&b, v)
	return []byte(b.String())
}

func writeJSON(b *strings.Builder, v any) {
	switch v := v.(type) {
	case string:
		writeJSONString(b, v)
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSON(b, e)
		}
		b.WriteByte(']')
	case ordered:
		b.WriteByte('{')
		for i, e := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSONString(b, e.key)
			b.WriteString(": ")
			writeJSON(b, e.val)
		}
		b.WriteByte('}')
	default:
		panic(fmt.Sprintf("pyJSON: unsupported %T", v))
	}
}

func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r >= ' ' && r <= '~':
			b.WriteRune(r)
		case r > 0xFFFF:
			r -= 0x10000
			fmt.Fprintf(b, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
		default:
			fmt.Fprintf(b, `\u%04x`, r)
		}
	}
	b.WriteByte('"')
}
