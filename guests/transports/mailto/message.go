package main

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// The message is built as Python's email package (compat32, as Apprise
// 1.9.8 uses it) writes it: MIME parts with their headers in that
// package's order, UTF-8 text parts in base64, boundaries of 15 '=', 19
// digits and "==", no header folding, then every line end made CRLF as
// smtplib does.

// part is one MIME entity: its header lines and its body text.
type part struct {
	headers []string
	body    string
}

func (p part) render() string {
	return strings.Join(p.headers, "\n") + "\n\n" + p.body
}

// base64Lines encodes b in lines of 76 characters, each ending in "\n".
func base64Lines(b []byte) string {
	enc := base64.StdEncoding.EncodeToString(b)
	var s strings.Builder
	for len(enc) > 76 {
		s.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	if enc != "" {
		s.WriteString(enc + "\n")
	}
	return s.String()
}

func textPart(subtype, text string) part {
	return part{
		headers: []string{`Content-Type: text/` + subtype + `; charset="utf-8"`, "MIME-Version: 1.0", "Content-Transfer-Encoding: base64"},
		body:    base64Lines([]byte(text)),
	}
}

func newBoundary() string {
	return fmt.Sprintf("===============%019d==", rand.Int64N(1<<63-1))
}

func multipart(subtype string, parts ...part) part {
	b := newBoundary()
	var s strings.Builder
	for i, p := range parts {
		if i == 0 {
			s.WriteString("--" + b + "\n")
		} else {
			s.WriteString("\n--" + b + "\n")
		}
		s.WriteString(p.render())
	}
	s.WriteString("\n--" + b + "--\n")
	return part{
		headers: []string{`Content-Type: multipart/` + subtype + `; boundary="` + b + `"`, "MIME-Version: 1.0"},
		body:    s.String(),
	}
}

func attachmentPart(name, mime string, data []byte) part {
	return part{
		headers: []string{"Content-Transfer-Encoding: base64", "MIME-Version: 1.0", "Content-Type: " + mime,
			`Content-Disposition: attachment; filename="` + oneLine(name) + `"`},
		body: base64Lines(data),
	}
}

// oneLine keeps header values on one line.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// encodeWord writes a non-ASCII header value as one RFC 2047 encoded word,
// choosing "b" or "q" by length as Python's utf-8 charset does (q on a
// tie); ASCII values are returned as they are.
func encodeWord(s string) string {
	if isASCII(s) {
		return s
	}
	b := []byte(s)
	qlen := 0
	for _, c := range b {
		if qSafe(c) || c == ' ' {
			qlen++
		} else {
			qlen += 3
		}
	}
	blen := (len(b) + 2) / 3 * 4
	if blen < qlen {
		return "=?utf-8?b?" + base64.StdEncoding.EncodeToString(b) + "?="
	}
	var q strings.Builder
	for _, c := range b {
		switch {
		case c == ' ':
			q.WriteByte('_')
		case qSafe(c):
			q.WriteByte(c)
		default:
			fmt.Fprintf(&q, "=%02X", c)
		}
	}
	return "=?utf-8?q?" + q.String() + "?="
}

func qSafe(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-!*+/", c) >= 0
}

// formatAddr writes "Name <addr>" as Python's formataddr: a name with
// specials is quoted (with '\' and '"' escaped), a non-ASCII one encoded;
// no name gives the bare address.
func formatAddr(name, addr string) string {
	if name == "" {
		return addr
	}
	if !isASCII(name) {
		return encodeWord(name) + " <" + addr + ">"
	}
	quote := ""
	if strings.ContainsAny(name, `[]\()<>@,:;".`) {
		quote = `"`
	}
	name = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name)
	return quote + name + quote + " <" + addr + ">"
}

// attachment is one file to attach.
type attachment struct {
	name, mime string
	data       []byte
}

// buildMessage returns the message for one To recipient and the envelope
// recipients (To, then Cc and Bcc without duplicates of To).
func buildMessage(c *config, to address, title, body, format string, atts []attachment, now time.Time) ([]byte, []string) {
	var root part
	if format == "html" {
		root = multipart("alternative", textPart("plain", htmlToText(body)), textPart("html", body))
	} else {
		root = textPart("plain", body)
	}
	if len(atts) > 0 {
		parts := []part{root}
		for i, a := range atts {
			name := a.name
			if name == "" {
				name = fmt.Sprintf("file%03d.dat", i+1)
			}
			mime := a.mime
			if mime == "" {
				mime = "application/octet-stream"
			}
			parts = append(parts, attachmentPart(name, mime, a.data))
		}
		root = multipart("mixed", parts...)
	}
	var cc, bcc []string
	for _, a := range c.cc {
		if a != to.addr && !contains(c.bcc, a) {
			cc = append(cc, a)
		}
	}
	for _, a := range c.bcc {
		if a != to.addr {
			bcc = append(bcc, a)
		}
	}
	var replyTo []string
	for _, a := range c.replyTo {
		if a != to.addr {
			replyTo = append(replyTo, formatAddr(c.names[a], a))
		}
	}
	headers := [][2]string{{"X-Application", "Apprise"}}
	for _, h := range c.headers {
		replaced := false
		for i := range headers {
			if headers[i][0] == h[0] {
				headers[i][1], replaced = h[1], true
			}
		}
		if !replaced {
			headers = append(headers, h)
		}
	}
	for _, h := range headers {
		root.headers = append(root.headers, h[0]+": "+encodeWord(oneLine(h[1])))
	}
	ccFmt := make([]string, len(cc))
	for i, a := range cc {
		ccFmt[i] = formatAddr(c.names[a], a)
	}
	root.headers = append(root.headers,
		"Subject: "+encodeWord(oneLine(title)),
		"From: "+formatAddr(oneLine(c.from.name), c.from.addr),
		"To: "+formatAddr(oneLine(to.name), to.addr),
		fmt.Sprintf("Message-ID: <%d.%d.%d@%s>", now.UnixNano()/1e7, 1+rand.IntN(32767), rand.Uint64(), c.smtpHost),
		"Date: "+now.UTC().Format("Mon, 02 Jan 2006 15:04:05 -0700"),
	)
	if len(c.cc) > 0 {
		root.headers = append(root.headers, "Cc: "+strings.Join(ccFmt, ","))
	}
	if len(replyTo) > 0 {
		root.headers = append(root.headers, "Reply-To: "+strings.Join(replyTo, ","))
	}
	msg := strings.ReplaceAll(strings.ReplaceAll(root.render(), "\r\n", "\n"), "\r", "\n")
	msg = strings.ReplaceAll(msg, "\n", "\r\n")
	return []byte(msg), append(append([]string{to.addr}, cc...), bcc...)
}
