package main

import (
	"html"
	"strings"

	"github.com/moonrelay/moonrelay/guests/sdk/apprise"
)

// htmlToText turns an HTML body into the plain-text alternative the way
// Apprise 1.9.8's HTMLConverter does: text is kept with runs of white space
// collapsed to one space, block elements (p, h1…h6, div, td, th, code,
// pre, label, li) start and end lines, <br> is a newline, <li> gets "- ",
// <hr> a "---" line, <blockquote> " >", and the text of form, list
// containers, style, script, head and similar elements directly inside
// them is dropped.
func htmlToText(s string) string {
	c := converter{store: true}
	for len(s) > 0 {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			c.data(s)
			break
		}
		if i > 0 {
			c.data(s[:i])
			s = s[i:]
		}
		switch {
		case strings.HasPrefix(s, "<!--"):
			end := strings.Index(s[4:], "-->")
			if end < 0 {
				return c.finish()
			}
			s = s[4+end+3:]
		case strings.HasPrefix(s, "<!") || strings.HasPrefix(s, "<?"):
			end := strings.IndexByte(s, '>')
			if end < 0 {
				return c.finish()
			}
			s = s[end+1:]
		case len(s) > 2 && s[1] == '/' && isLetter(s[2]):
			name, rest := tagName(s[2:])
			end := strings.IndexByte(rest, '>')
			if end < 0 {
				return c.finish()
			}
			c.end(name)
			s = rest[end+1:]
		case len(s) > 1 && isLetter(s[1]):
			name, rest := tagName(s[1:])
			end := tagEnd(rest)
			if end < 0 {
				return c.finish()
			}
			selfClosing := end > 0 && rest[end-1] == '/'
			c.start(name)
			if selfClosing {
				c.end(name)
			}
			s = rest[end+1:]
			if name == "script" || name == "style" {
				// raw text up to the closing tag
				close := strings.Index(strings.ToLower(s), "</"+name)
				if close < 0 {
					close = len(s)
				}
				c.data(s[:close])
				s = s[close:]
			}
		default:
			c.data("<")
			s = s[1:]
		}
	}
	return c.finish()
}

func isLetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

func tagName(s string) (string, string) {
	i := 0
	for i < len(s) && !strings.ContainsRune(" \t\n\r\f/>", rune(s[i])) {
		i++
	}
	return strings.ToLower(s[:i]), s[i:]
}

// tagEnd finds the '>' closing a start tag, skipping quoted attributes.
func tagEnd(s string) int {
	var quote byte
	for i := 0; i < len(s); i++ {
		switch {
		case quote != 0:
			if s[i] == quote {
				quote = 0
			}
		case s[i] == '"' || s[i] == '\'':
			quote = s[i]
		case s[i] == '>':
			return i
		}
	}
	return -1
}

var (
	blockTags  = set("p", "h1", "h2", "h3", "h4", "h5", "h6", "div", "td", "th", "code", "pre", "label", "li")
	ignoreTags = set("form", "input", "textarea", "select", "ul", "ol", "style", "link", "meta", "title", "html", "head", "script")
)

func set(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// blockEnd marks a block boundary in converter.items.
const blockEnd = "\x00block"

type converter struct {
	store bool
	items []string
}

func (c *converter) data(s string) {
	if !c.store {
		return
	}
	s = html.UnescapeString(s)
	var b strings.Builder
	inSpace := false
	for _, r := range s {
		if apprise.IsPySpace(r) {
			if !inSpace {
				b.WriteByte(' ')
			}
			inSpace = true
			continue
		}
		inSpace = false
		b.WriteRune(r)
	}
	c.items = append(c.items, b.String())
}

func (c *converter) start(tag string) {
	c.store = !ignoreTags[tag]
	if blockTags[tag] {
		c.items = append(c.items, blockEnd)
	}
	switch tag {
	case "li":
		c.items = append(c.items, "- ")
	case "br":
		c.items = append(c.items, "\n")
	case "hr":
		if n := len(c.items); n > 0 && c.items[n-1] != blockEnd {
			c.items[n-1] = strings.TrimRight(c.items[n-1], " ")
		}
		c.items = append(c.items, "\n---\n")
	case "blockquote":
		c.items = append(c.items, " >")
	}
}

func (c *converter) end(tag string) {
	c.store = true
	if blockTags[tag] {
		c.items = append(c.items, blockEnd)
	}
}

// finish joins the pieces: consecutive strings are combined, each run
// before a block boundary is trimmed and ends the line, and the whole is
// trimmed.
func (c *converter) finish() string {
	var b strings.Builder
	var acc *strings.Builder
	for _, it := range c.items {
		if it == blockEnd {
			if acc == nil {
				continue
			}
			b.WriteString(strings.TrimFunc(acc.String(), apprise.IsPySpace) + "\n")
			acc = nil
			continue
		}
		if acc == nil {
			acc = &strings.Builder{}
		}
		acc.WriteString(it)
	}
	if acc != nil {
		b.WriteString(strings.TrimFunc(acc.String(), apprise.IsPySpace))
	}
	return strings.TrimFunc(b.String(), apprise.IsPySpace)
}
