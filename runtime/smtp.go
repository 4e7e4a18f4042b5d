package runtime

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/smtp"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moonrelay/moonrelay/guests/sdk"
)

// smtpOK is what smtp_send returns when the server accepted the message.
const smtpOK = 250

// smtpAllowHosts adds, for smtp_send only, the host named by the notifier
// URL's "smtp" option (Apprise's mailto://…?smtp=mail.example.com): the
// owner wrote it in the URL just like the URL's own host, so it gets the
// same class. Only guests with user_host get it.
func (cs *callState) smtpAllowHosts(userURL string) {
	cs.smtpAllow = map[string]hostClass{}
	if !cs.g.info.UserHost || userURL == "" {
		return
	}
	u, err := sdk.ParseURL(userURL)
	if err != nil {
		return
	}
	h := normHost(u.Option("smtp", ""))
	if h == "" || !hostRE.MatchString(h) && !isIP(h) {
		return
	}
	c := classUser
	if ip, err := netip.ParseAddr(h); (err == nil && ip.Unmap().IsLoopback()) || h == "localhost" {
		c = classUserLoopback
	}
	cs.smtpAllow[h] = c
}

func isIP(h string) bool {
	_, err := netip.ParseAddr(h)
	return err == nil
}

// smtpClass returns the class of an SMTP host: the call's allow list, then
// the URL's smtp option.
func (cs *callState) smtpClass(h string) (hostClass, bool) {
	if c, ok := cs.allow[h]; ok {
		return c, true
	}
	c, ok := cs.smtpAllow[h]
	return c, ok
}

// doSMTP performs one smtp_send: connect, optional STARTTLS or implicit
// TLS, optional AUTH, MAIL, RCPT, DATA, QUIT. It returns 250, the SMTP reply
// code that refused the message, or a host error code; for anything but
// 250 lastErr holds the reason.
func (cs *callState) doSMTP(ctx context.Context, reqJSON, msg []byte) int {
	if !slices.Contains(cs.g.info.Capabilities, "smtp") {
		_, code := cs.fail(codeNoCapability, `smtp_send: the guest's manifest does not declare the "smtp" capability`)
		return code
	}
	cs.requests++
	if cs.requests > cs.lim.MaxRequests {
		_, code := cs.fail(codeBudget, "request budget of %d requests per call exhausted", cs.lim.MaxRequests)
		return code
	}
	var r sdk.SMTPRequest
	if err := json.Unmarshal(reqJSON, &r); err != nil {
		_, code := cs.fail(codeBadRequest, "smtp request is not valid JSON: %v", err)
		return code
	}
	host := normHost(r.Host)
	if r.Port == 0 {
		r.Port = map[string]int{sdk.SMTPTLSNone: 25, sdk.SMTPStartTLS: 587, sdk.SMTPImplicitTLS: 465}[r.TLS]
	}
	target := net.JoinHostPort(host, strconv.Itoa(r.Port))
	switch {
	case host == "":
		_, code := cs.fail(codeBadRequest, "smtp: no host")
		return code
	case r.Port < 1 || r.Port > 65535:
		_, code := cs.fail(codeBadRequest, "smtp: bad port %d", r.Port)
		return code
	case r.TLS != sdk.SMTPTLSNone && r.TLS != sdk.SMTPStartTLS && r.TLS != sdk.SMTPImplicitTLS:
		_, code := cs.fail(codeBadRequest, `smtp: tls %q is not "none", "starttls" or "implicit"`, r.TLS)
		return code
	case len(r.To) == 0:
		_, code := cs.fail(codeBadRequest, "smtp: no recipients")
		return code
	case int64(len(msg)) > cs.lim.MaxRequestBody:
		_, code := cs.fail(codeBadRequest, "smtp: message over the %d-byte limit", cs.lim.MaxRequestBody)
		return code
	}
	for _, a := range append([]string{r.From}, r.To...) {
		if strings.ContainsAny(a, "\r\n<>\x00") {
			_, code := cs.fail(codeBadRequest, "smtp: bad address %q", a)
			return code
		}
	}
	class, ok := cs.smtpClass(host)
	if !ok {
		_, code := cs.fail(codePolicy, "smtp %s: host %s is not allowed (allowed: %s)", target, host, cs.smtpAllowedList())
		return code
	}
	dialHost, dialAddr := host, target
	if to, ok := cs.e.opts.Redirect[host]; ok {
		if tu, err := url.Parse(to); err == nil && tu.Host != "" {
			dialHost, dialAddr = normHost(tu.Hostname()), tu.Host
			class = classExtra
		}
	}
	timeout := cs.lim.RequestTimeout
	if r.TimeoutMS > 0 {
		timeout = min(timeout, time.Duration(r.TimeoutMS)*time.Millisecond)
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	fail := func(step string, err error) int {
		var pe *policyError
		var te *textproto.Error
		switch {
		case errors.As(err, &pe):
			_, code := cs.fail(codePolicy, "smtp %s: %v", target, pe)
			return code
		case errors.As(err, &te):
			cs.lastErr = fmt.Sprintf("%s: %d %s", step, te.Code, te.Msg)
			return te.Code
		case sctx.Err() != nil && ctx.Err() == nil || isTimeout(err):
			_, code := cs.fail(codeTimeout, "smtp %s: %s: no answer within %s", target, step, timeout)
			return code
		default:
			_, code := cs.fail(codeNetwork, "smtp %s: %s: %v", target, step, err)
			return code
		}
	}

	conn, err := cs.dialClass(sctx, class, dialHost, dialAddr)
	if err != nil {
		return fail("connect", err)
	}
	defer conn.Close()
	deadline, _ := sctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(sctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	tlsConfig := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if r.TLS == sdk.SMTPImplicitTLS {
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(sctx); err != nil {
			return fail("TLS", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fail("greeting", err)
	}
	quit := true
	defer func() {
		if quit { // end politely after a refusal, as smtplib's quit() does
			_ = c.Quit()
		}
		c.Close()
	}()
	if err := c.Hello("localhost"); err != nil {
		return fail("EHLO", err)
	}
	if r.TLS == sdk.SMTPStartTLS {
		if err := c.StartTLS(tlsConfig); err != nil {
			return fail("STARTTLS", err)
		}
	}
	if r.Username != "" && r.Password != "" {
		_, mechs := c.Extension("AUTH")
		if err := c.Auth(pickAuth(mechs, r.Username, r.Password)); err != nil {
			quit = false // net/smtp already aborted and sent QUIT
			return fail("AUTH", err)
		}
	}
	if err := c.Mail(r.From); err != nil {
		return fail("MAIL FROM", err)
	}
	var refused error
	accepted := 0
	for _, to := range r.To {
		if err := c.Rcpt(to); err != nil {
			var te *textproto.Error
			if !errors.As(err, &te) {
				return fail("RCPT TO", err)
			}
			if refused == nil {
				refused = err
			}
			continue
		}
		accepted++
	}
	if accepted == 0 {
		return fail("RCPT TO", refused)
	}
	w, err := c.Data()
	if err != nil {
		return fail("DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fail("DATA", err)
	}
	if err := w.Close(); err != nil {
		return fail("DATA", err)
	}
	quit = false
	_ = c.Quit()
	return smtpOK
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// dialClass resolves and dials addr like an HTTP transport does, checked
// against the given class of host.
func (cs *callState) dialClass(ctx context.Context, class hostClass, host, addr string) (net.Conn, error) {
	p := &dialPolicy{e: cs.e, allow: map[string]hostClass{host: class}}
	return p.dialContext(ctx, "tcp", addr)
}

func (cs *callState) smtpAllowedList() string {
	hs := make([]string, 0, len(cs.allow)+len(cs.smtpAllow))
	for h := range cs.allow {
		hs = append(hs, h)
	}
	for h := range cs.smtpAllow {
		if _, ok := cs.allow[h]; !ok {
			hs = append(hs, h)
		}
	}
	if len(hs) == 0 {
		return "none"
	}
	slices.Sort(hs)
	return strings.Join(hs, ", ")
}

// pickAuth chooses the mechanism as Python's smtplib does, from the ones
// the server offers: CRAM-MD5, then PLAIN, then LOGIN (PLAIN when the
// server lists none). Unlike net/smtp's PlainAuth, these send credentials
// on an unencrypted connection too: mailto:// without TLS is the owner's
// explicit choice, as in Apprise.
func pickAuth(mechs, user, pass string) smtp.Auth {
	offered := strings.Fields(strings.ToUpper(mechs))
	switch {
	case slices.Contains(offered, "CRAM-MD5"):
		return cramAuth{user, pass}
	case slices.Contains(offered, "PLAIN"):
		return plainAuth{user, pass}
	case slices.Contains(offered, "LOGIN"):
		return loginAuth{user, pass}
	}
	return plainAuth{user, pass}
}

type plainAuth struct{ user, pass string }

func (a plainAuth) Start(*smtp.ServerInfo) (string, []byte, error) {
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.pass), nil
}

func (a plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("unexpected server challenge")
	}
	return nil, nil
}

type loginAuth struct{ user, pass string }

func (a loginAuth) Start(*smtp.ServerInfo) (string, []byte, error) { return "LOGIN", nil, nil }

func (a loginAuth) Next(challenge []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	if strings.HasPrefix(strings.ToLower(string(challenge)), "user") {
		return []byte(a.user), nil
	}
	return []byte(a.pass), nil
}

type cramAuth struct{ user, pass string }

func (a cramAuth) Start(*smtp.ServerInfo) (string, []byte, error) { return "CRAM-MD5", nil, nil }

func (a cramAuth) Next(challenge []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	m := hmac.New(md5.New, []byte(a.pass))
	m.Write(challenge)
	return []byte(a.user + " " + hex.EncodeToString(m.Sum(nil))), nil
}
