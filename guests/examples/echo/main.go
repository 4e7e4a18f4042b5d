// Command echo is the example transport: it answers every message with a
// description of what it received, and exercises each host call on request,
// so the runtime's tests and a guest author can see the whole ABI at work.
//
// URL: echo://host[:port]/path?http=yes&kv=name&log=text
//
//   - http=yes POSTs the body to http://host:port/path (the notifier's own
//     host) and reports the status and response body;
//   - kv=name reports the stored value of name, then stores the body there;
//   - log=text writes text to the server log;
//   - mail=yes sends the title and body as an e-mail over plain SMTP to
//     host:port (port 25 by default), mail=HOST:PORT to another server.
//
// Attachments are read in full and reported by name and size.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/moonrelay/moonrelay/guests/sdk"
)

// name is the guest's name and URL scheme. The runtime's benchmarks load
// many copies of this file with the name changed.
const name = "echo"

func init() {
	sdk.RegisterTransport(sdk.Manifest{
		Name:         name,
		Version:      "1.0.0",
		Schemes:      []string{name},
		UserHost:     true,
		Format:       "text",
		Attachments:  "any",
		Capabilities: []string{"http", "kv", "smtp"},
	}, echo{})
}

func main() {}

type echo struct{}

// reply is what echo reports in SendResult.Info.
type reply struct {
	Title       string            `json:"title"`
	Body        string            `json:"body"`
	Notifier    string            `json:"notifier,omitempty"`
	Event       string            `json:"event,omitempty"`
	Attachments map[string]string `json:"attachments,omitempty"`
	HTTPStatus  int               `json:"http_status,omitempty"`
	HTTPBody    string            `json:"http_body,omitempty"`
	KVPrevious  *string           `json:"kv_previous,omitempty"`
	SMTPCode    int               `json:"smtp_code,omitempty"`
	SMTPMessage string            `json:"smtp_message,omitempty"`
}

func (echo) Send(req *sdk.SendRequest) sdk.SendResult {
	u, err := sdk.ParseURL(req.URL)
	if err != nil {
		return sdk.FailPermanent(err.Error())
	}
	r := reply{Title: req.Title, Body: req.Body, Notifier: req.Notifier, Event: req.Event}
	if msg := u.Option("log", ""); msg != "" {
		sdk.Log(sdk.LevelInfo, msg)
	}
	for _, a := range req.Attachments {
		b, err := io.ReadAll(sdk.Attachment(a.ID))
		if err != nil {
			return sdk.Fail(fmt.Sprintf("attachment %s: %v", a.Name, err))
		}
		if r.Attachments == nil {
			r.Attachments = map[string]string{}
		}
		r.Attachments[a.Name] = string(b)
	}
	if key := u.Option("kv", ""); key != "" {
		prev, err := sdk.KV.Get(key)
		switch {
		case err == sdk.ErrNotFound:
		case err != nil:
			return sdk.Fail("kv: " + err.Error())
		default:
			s := string(prev)
			r.KVPrevious = &s
		}
		if err := sdk.KV.Set(key, []byte(req.Body)); err != nil {
			return sdk.Fail("kv: " + err.Error())
		}
	}
	if u.Bool("http", false) {
		path := ""
		for _, s := range u.Path {
			path += "/" + s
		}
		resp, err := sdk.HTTP(sdk.HTTPRequest{
			Method:  "POST",
			URL:     "http://" + u.HostPort(80) + path,
			Headers: [][2]string{{"Content-Type", "text/plain"}},
			Body:    []byte(req.Body),
		})
		if err != nil {
			return sdk.Retry(0, "http: "+err.Error())
		}
		r.HTTPStatus, r.HTTPBody = resp.Status, string(resp.Body)
		if res := sdk.ResultForStatus(resp.Status, 0, fmt.Sprintf("service answered %d", resp.Status)); !res.OK {
			return res
		}
	}
	if to := u.Option("mail", ""); to != "" {
		host, port := u.Host, u.Port
		if to != "yes" {
			i := strings.LastIndexByte(to, ':')
			if i < 0 {
				return sdk.FailPermanent("mail: want yes or HOST:PORT")
			}
			host, port = to[:i], 0
			fmt.Sscan(to[i+1:], &port)
		}
		msg := "From: echo@example.com\r\nTo: owner@example.com\r\nSubject: " + req.Title + "\r\n\r\n" + req.Body + "\r\n"
		reply, err := sdk.SMTP(sdk.SMTPRequest{Host: host, Port: port, TLS: sdk.SMTPTLSNone,
			From: "echo@example.com", To: []string{"owner@example.com"}, Message: []byte(msg)})
		if err != nil {
			return sdk.Retry(0, "smtp: "+err.Error())
		}
		r.SMTPCode, r.SMTPMessage = reply.Code, reply.Message
	}
	info, _ := json.Marshal(r)
	res := sdk.Sent()
	res.Info = string(info)
	return res
}
