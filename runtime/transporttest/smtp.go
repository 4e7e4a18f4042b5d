package transporttest

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// SMTPServer is a fake SMTP server on 127.0.0.1 for transports that use the
// host's smtp_send. It speaks EHLO/HELO, AUTH PLAIN and LOGIN, MAIL, RCPT,
// DATA, RSET, NOOP and QUIT without TLS (STARTTLS is answered 454), and
// records every message with the conversation that carried it.
type SMTPServer struct {
	// Addr is host:port, Host "127.0.0.1" and Port the port.
	Addr string
	Host string
	Port int

	mu      sync.Mutex
	replies map[string]string
	msgs    []SMTPMessage
	convs   [][]string
}

// SMTPMessage is one message the server accepted (or refused at DATA).
type SMTPMessage struct {
	// Conversation lists the client's commands up to DATA, AUTH
	// credentials decoded: "AUTH PLAIN user=me pass=secret".
	Conversation []string
	From         string
	To           []string
	// Data is the message as received, dot-unstuffed, without the final
	// ".".
	Data []byte
}

// NewSMTP starts a fake SMTP server that accepts everything.
func NewSMTP(t testing.TB) *SMTPServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &SMTPServer{Addr: ln.Addr().String(), Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, replies: map[string]string{}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

// Reply makes the server answer a command with reply ("535 5.7.8 bad
// credentials"). cmd is a whole command line ("RCPT TO:<a@b.c>") or a verb
// ("AUTH", "RCPT", "DATA" — for DATA the reply comes after the message).
func (s *SMTPServer) Reply(cmd, reply string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies[cmd] = reply
}

// Messages returns the messages received so far.
func (s *SMTPServer) Messages() []SMTPMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SMTPMessage(nil), s.msgs...)
}

// Conversations returns the client commands of every connection so far.
func (s *SMTPServer) Conversations() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]string(nil), s.convs...)
}

// Last returns the last message, failing the test if there was none.
func (s *SMTPServer) Last(t testing.TB) SMTPMessage {
	t.Helper()
	ms := s.Messages()
	if len(ms) == 0 {
		t.Fatalf("the SMTP server received no message (conversations: %q)", s.Conversations())
	}
	return ms[len(ms)-1]
}

func (s *SMTPServer) reply(line, verb string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.replies[line]; ok {
		return r, true
	}
	r, ok := s.replies[verb]
	return r, ok
}

func (s *SMTPServer) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(l string) { _, _ = c.Write([]byte(l + "\r\n")) }
	read := func() (string, bool) {
		l, err := r.ReadString('\n')
		return strings.TrimRight(l, "\r\n"), err == nil
	}
	s.mu.Lock()
	idx := len(s.convs)
	s.convs = append(s.convs, nil)
	s.mu.Unlock()
	var conv []string
	record := func(l string) {
		conv = append(conv, l)
		s.mu.Lock()
		s.convs[idx] = append([]string(nil), conv...)
		s.mu.Unlock()
	}
	var from string
	var to []string
	say("220 fake.test ESMTP")
	for {
		line, ok := read()
		if !ok {
			return
		}
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		if verb == "AUTH" {
			record(s.auth(line, read, say))
		} else {
			record(line)
		}
		if reply, ok := s.reply(line, verb); ok && verb != "DATA" {
			say(reply)
			continue
		}
		switch verb {
		case "EHLO":
			say("250-fake.test\r\n250-AUTH PLAIN LOGIN\r\n250 HELP")
		case "AUTH":
			say("235 2.7.0 Authentication successful")
		case "STARTTLS":
			say("454 4.7.0 TLS not available")
		case "MAIL":
			from, to = addrOf(line), nil
			say("250 2.1.0 Ok")
		case "RCPT":
			to = append(to, addrOf(line))
			say("250 2.1.5 Ok")
		case "DATA":
			say("354 End data with <CR><LF>.<CR><LF>")
			var data bytes.Buffer
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, SMTPMessage{Conversation: append([]string(nil), conv...), From: from, To: to, Data: data.Bytes()})
			s.mu.Unlock()
			if reply, ok := s.reply(line, verb); ok {
				say(reply)
			} else {
				say("250 2.0.0 Ok: queued")
			}
		case "QUIT":
			say("221 2.0.0 Bye")
			return
		case "HELO", "RSET", "NOOP", "*":
			say("250 Ok")
		default:
			say("502 5.5.2 Error: command not recognized")
		}
	}
}

// auth runs an AUTH exchange far enough to learn the credentials and
// returns the command as recorded.
func (s *SMTPServer) auth(line string, read func() (string, bool), say func(string)) string {
	f := strings.Fields(line)
	dec := func(b string) string { d, _ := base64.StdEncoding.DecodeString(b); return string(d) }
	if len(f) < 2 {
		return line
	}
	switch strings.ToUpper(f[1]) {
	case "PLAIN":
		resp := ""
		if len(f) > 2 {
			resp = f[2]
		} else {
			say("334 ")
			resp, _ = read()
		}
		parts := strings.Split(dec(resp), "\x00")
		if len(parts) == 3 {
			return fmt.Sprintf("AUTH PLAIN user=%s pass=%s", parts[1], parts[2])
		}
	case "LOGIN":
		user := ""
		if len(f) > 2 {
			user = dec(f[2])
		} else {
			say("334 VXNlcm5hbWU6")
			u, _ := read()
			user = dec(u)
		}
		say("334 UGFzc3dvcmQ6")
		p, _ := read()
		return fmt.Sprintf("AUTH LOGIN user=%s pass=%s", user, dec(p))
	}
	return line
}

func addrOf(line string) string {
	if i, j := strings.IndexByte(line, '<'), strings.IndexByte(line, '>'); i >= 0 && j > i {
		return line[i+1 : j]
	}
	return line
}

var (
	boundaryRE  = regexp.MustCompile(`boundary="?([^";\r\n]+)"?`)
	dateRE      = regexp.MustCompile(`(?m)^Date: .*$`)
	messageIDRE = regexp.MustCompile(`(?m)^Message-ID: <[^@>]*@`)
)

// Dump writes a message as stable text for golden files: the
// conversation, the envelope, then the data with CRLF shown as line ends
// (a bare CR or LF is shown as \r or \n), the Date and the random part of
// the Message-ID replaced by DATE and MSGID, and MIME boundaries by
// BOUNDARY1, BOUNDARY2… in order of appearance. The server's port is
// written as PORT.
func (s *SMTPServer) Dump(m SMTPMessage) []byte {
	var b bytes.Buffer
	for _, l := range m.Conversation {
		b.WriteString("C: " + l + "\n")
	}
	fmt.Fprintf(&b, "MAIL FROM: %s\nRCPT TO: %s\n\n", m.From, strings.Join(m.To, ", "))
	data := string(m.Data)
	data = strings.ReplaceAll(data, "\r\n", "\x00")
	data = strings.NewReplacer("\r", `\r`, "\n", `\n`, "\x00", "\n").Replace(data)
	n := 0
	for _, sm := range boundaryRE.FindAllStringSubmatch(data, -1) {
		if !strings.Contains(data, "--"+sm[1]) {
			continue
		}
		n++
		data = strings.ReplaceAll(data, sm[1], "BOUNDARY"+strconv.Itoa(n))
	}
	data = dateRE.ReplaceAllString(data, "Date: DATE")
	data = messageIDRE.ReplaceAllString(data, "Message-ID: <MSGID@")
	b.WriteString(data)
	return bytes.ReplaceAll(b.Bytes(), []byte(":"+strconv.Itoa(s.Port)), []byte(":PORT"))
}
