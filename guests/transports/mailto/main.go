// Command mailto sends notifications by e-mail as Apprise 1.9.8's
// mailto:// and mailtos:// do, through the host's SMTP capability.
//
// URL: mailto[s]://[USER[:PASSWORD]@]HOST[:PORT][/TO…]?options
//
//   - mailto:// speaks plain SMTP on port 25; mailtos:// uses STARTTLS on
//     587; ?mode=starttls|ssl|insecure chooses (ssl = implicit TLS, 465);
//     ?port= or :PORT overrides the port.
//   - The sender is USER@HOST named "Apprise"; ?from=addr or
//     ?from=Name%20<addr> and ?name=Name change it. No recipient sends to
//     the sender.
//   - Recipients: path segments and ?to=; ?cc=, ?bcc=, ?reply= take lists.
//   - ?smtp=server names the SMTP server; without it a known provider
//     (gmail.com, outlook.com, yahoo.com, …) fills server, port and mode
//     and the login, else HOST is the server.
//   - ?+Header=value adds a header; ?format=text sends plain text only.
//
// One e-mail is sent per To recipient, each with the Cc and Bcc lists.
package main

import (
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/moonrelay/moonrelay/guests/sdk"
)

func init() {
	sdk.RegisterTransport(sdk.Manifest{
		Name:         "mailto",
		Version:      "1.0.0",
		Schemes:      []string{"mailto", "mailtos"},
		Hosts:        providerHosts(),
		UserHost:     true,
		Format:       "html",
		TitleMaxLen:  250,
		BodyMaxLen:   32768,
		Attachments:  "any",
		Capabilities: []string{"http", "smtp"},
	}, mailto{})
}

func main() {}

type mailto struct{}

// Validate checks the URL and reports the SMTP server it will use.
func (mailto) Validate(req *sdk.ValidateRequest) sdk.ValidateResult {
	c, err := parseConfig(req.URL)
	if err != nil {
		return sdk.ValidateResult{Error: err.Error()}
	}
	u, _ := sdk.ParseURL(req.URL)
	opts := map[string]string{
		"smtp": c.smtpHost, "port": fmt.Sprint(c.port), "mode": c.mode, "from": c.from.addr,
	}
	if c.format != "" {
		opts["format"] = c.format
	}
	return sdk.ValidateResult{OK: true, Hosts: []string{c.smtpHost}, RedactedURL: redacted(u), Options: opts}
}

// redacted hides the password and keeps the recipients and options.
func redacted(u *sdk.URL) string {
	s := u.Redacted()
	var q []string
	for k, v := range u.Options {
		if k == "pass" {
			v = "****"
		}
		q = append(q, k+"="+url.QueryEscape(v))
	}
	if len(q) > 0 {
		sortStrings(q)
		s += "?" + strings.Join(q, "&")
	}
	return s
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func (mailto) Send(req *sdk.SendRequest) sdk.SendResult {
	c, err := parseConfig(req.URL)
	if err != nil {
		return sdk.FailPermanent(err.Error())
	}
	format := c.format
	if format == "" {
		format = "html"
	}
	var atts []attachment
	for _, a := range req.Attachments {
		b, err := io.ReadAll(sdk.Attachment(a.ID))
		if err != nil {
			return sdk.Fail(fmt.Sprintf("mailto: attachment %s: %v", a.Name, err))
		}
		atts = append(atts, attachment{name: a.Name, mime: a.MIME, data: b})
	}
	var failed []string
	worst := sdk.Sent()
	for _, to := range c.to {
		msg, rcpts := buildMessage(c, to, req.Title, req.Body, format, atts, sdk.Now())
		res := deliver(c, msg, rcpts)
		if res.OK {
			continue
		}
		failed = append(failed, to.addr+": "+res.Error)
		if worst.OK || worst.Status == sdk.StatusRetry && res.Status != sdk.StatusRetry {
			worst = res
		}
	}
	if len(failed) == 0 {
		return worst
	}
	worst.Error = strings.Join(failed, "; ")
	return worst
}

// deliver hands one message to the host's SMTP client and maps the answer:
// 250 sent, 4xx retry, 5xx permanent; host timeouts and network errors
// retry, a refused host or a bad request is permanent.
func deliver(c *config, msg []byte, rcpts []string) sdk.SendResult {
	user, pass := c.user, c.password
	if user == "" || pass == "" {
		user, pass = "", ""
	}
	reply, err := sdk.SMTP(sdk.SMTPRequest{
		Host: c.smtpHost, Port: c.port, TLS: c.tlsMode(),
		Username: user, Password: pass,
		From: c.from.addr, To: rcpts, Message: msg,
		TimeoutMS: 15000,
	})
	if err != nil {
		he, ok := err.(*sdk.HostError)
		if ok && (he.Code == sdk.CodeTimeout || he.Code == sdk.CodeNetwork) {
			return sdk.Retry(0, fmt.Sprintf("SMTP server %s:%d: %s", c.smtpHost, c.port, he.Message))
		}
		return sdk.FailPermanent(fmt.Sprintf("SMTP server %s:%d: %v", c.smtpHost, c.port, err))
	}
	switch {
	case reply.Code == 250:
		return sdk.Sent()
	case reply.Code >= 400 && reply.Code < 500:
		return sdk.Retry(0, fmt.Sprintf("SMTP server %s:%d refused for now: %s", c.smtpHost, c.port, reply.Message))
	}
	return sdk.FailPermanent(fmt.Sprintf("SMTP server %s:%d refused: %s", c.smtpHost, c.port, reply.Message))
}
