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

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/guests/sdk/apprise"
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
	w, err := apprise.ParseWebhook(req.URL, "json")
	if err != nil {
		return sdk.ValidateResult{Error: err.Error()}
	}
	return w.Validate()
}

// Send delivers one message.
func (transport) Send(req *sdk.SendRequest) sdk.SendResult {
	w, err := apprise.ParseWebhook(req.URL, "json")
	if err != nil {
		return sdk.FailPermanent(err.Error())
	}
	atts := make([]any, 0, len(req.Attachments))
	for i, a := range req.Attachments {
		data, err := io.ReadAll(sdk.Attachment(a.ID))
		if err != nil {
			return sdk.Fail(fmt.Sprintf("json: attachment %s: %v", a.Name, err))
		}
		atts = append(atts, apprise.Object{
			{Key: "filename", Value: apprise.AttachmentName(a, i+1)},
			{Key: "base64", Value: base64.StdEncoding.EncodeToString(data)},
			{Key: "mimetype", Value: apprise.AttachmentMIME(a)},
		})
	}
	notifyType := req.NotifyType
	if notifyType == "" {
		notifyType = "info"
	}
	payload := apprise.Object{
		{Key: "version", Value: "1.0"},
		{Key: "title", Value: req.Title},
		{Key: "message", Value: req.Body},
		{Key: "attachments", Value: atts},
		{Key: "type", Value: notifyType},
	}
	for _, e := range w.Payload {
		value := e.Value.(string)
		i := payload.Index(e.Key)
		switch {
		case i < 0:
			payload.Set(e.Key, value)
		case value == "":
			payload.Del(e.Key)
		default: // rename: the value moves under the new key, then the old key goes
			v := payload[i].Value
			payload.Set(value, v)
			payload.Del(e.Key)
		}
	}
	headers, err := w.RequestHeaders([2]string{"Content-Type", "application/json"})
	if err != nil {
		return sdk.FailPermanent("json: " + err.Error())
	}
	return apprise.Do("json", sdk.HTTPRequest{
		Method:  w.Method,
		URL:     apprise.WithQuery(w.URL(), w.Params.Strings()),
		Headers: headers,
		Body:    apprise.Dumps(payload),
	})
}
