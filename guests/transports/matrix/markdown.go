package main

import (
	"html"
	"regexp"
	"strings"
)

// markdownToHTML renders the common subset of Markdown the way
// python-markdown does without extensions (what Apprise's Matrix plugin
// calls for formatted_body in markdown mode): ATX and setext headings,
// paragraphs, "-", "*", "+" and numbered lists, block quotes, indented code,
// rules, and inline code, strong, emphasis, links and autolinks. Blocks are
// separated by one newline, as python-markdown writes them. It is an
// approximation: nested lists, reference links and raw HTML blocks are not
// handled the way python-markdown would.
func markdownToHTML(src string) string {
	src = strings.ReplaceAll(strings.ReplaceAll(src, "\r\n", "\n"), "\r", "\n")
	lines := strings.Split(src, "\n")
	var out []string
	var para []string
	flush := func() {
		if len(para) > 0 {
			out = append(out, "<p>"+inline(strings.Join(para, "\n"))+"</p>")
			para = nil
		}
	}
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		t := strings.TrimSpace(l)
		switch {
		case t == "":
			flush()
		case len(para) == 0 && strings.HasPrefix(l, "    "):
			var code []string
			for ; i < len(lines) && (strings.HasPrefix(lines[i], "    ") || strings.TrimSpace(lines[i]) == ""); i++ {
				code = append(code, strings.TrimPrefix(lines[i], "    "))
			}
			i--
			for len(code) > 0 && strings.TrimSpace(code[len(code)-1]) == "" {
				code = code[:len(code)-1]
			}
			out = append(out, "<pre><code>"+html.EscapeString(strings.Join(code, "\n"))+"\n</code></pre>")
		case atxRE.MatchString(l):
			flush()
			m := atxRE.FindStringSubmatch(l)
			n := string(rune('0' + len(m[1])))
			out = append(out, "<h"+n+">"+inline(strings.TrimSpace(strings.TrimRight(m[2], "#")))+"</h"+n+">")
		case len(para) > 0 && setextRE.MatchString(l):
			n := "1"
			if strings.HasPrefix(t, "-") {
				n = "2"
			}
			out = append(out, "<h"+n+">"+inline(strings.Join(para, "\n"))+"</h"+n+">")
			para = nil
		case len(para) == 0 && hrRE.MatchString(l):
			out = append(out, "<hr />")
		case len(para) == 0 && (ulRE.MatchString(l) || olRE.MatchString(l)):
			re, tag := ulRE, "ul"
			if olRE.MatchString(l) {
				re, tag = olRE, "ol"
			}
			var items []string
			for ; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
				if m := re.FindStringSubmatch(lines[i]); m != nil {
					items = append(items, m[1])
				} else if len(items) > 0 {
					items[len(items)-1] += "\n" + strings.TrimSpace(lines[i])
				}
			}
			i--
			var b strings.Builder
			b.WriteString("<" + tag + ">\n")
			for _, it := range items {
				b.WriteString("<li>" + inline(it) + "</li>\n")
			}
			b.WriteString("</" + tag + ">")
			out = append(out, b.String())
		case len(para) == 0 && strings.HasPrefix(t, ">"):
			var q []string
			for ; i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), ">"); i++ {
				q = append(q, strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(lines[i]), ">"), " "))
			}
			i--
			out = append(out, "<blockquote>\n"+markdownToHTML(strings.Join(q, "\n"))+"\n</blockquote>")
		default:
			para = append(para, strings.TrimLeft(l, " "))
		}
	}
	flush()
	return strings.Join(out, "\n")
}

var (
	atxRE    = regexp.MustCompile(`^(#{1,6})\s*(.*?)\s*$`)
	setextRE = regexp.MustCompile(`^(=+|-+)\s*$`)
	hrRE     = regexp.MustCompile(`^ {0,3}((\* *){3,}|(- *){3,}|(_ *){3,})$`)
	ulRE     = regexp.MustCompile(`^ {0,3}[*+-]\s+(.*)$`)
	olRE     = regexp.MustCompile(`^ {0,3}\d+\.\s+(.*)$`)

	codeRE     = regexp.MustCompile("`([^`]+)`")
	strongRE   = regexp.MustCompile(`(\*\*|__)(\S(?:.*?\S)?)(\*\*|__)`)
	emRE       = regexp.MustCompile(`(\*|\b_)(\S(?:.*?\S)?)(\*|_\b)`)
	linkRE     = regexp.MustCompile(`\[([^\]]*)\]\(\s*<?([^)\s>]*)>?(?:\s+"([^"]*)")?\s*\)`)
	autoLinkRE = regexp.MustCompile(`&lt;((?:https?|ftp)://[^\s&]+)&gt;`)
	tagRE      = regexp.MustCompile(`^</?[A-Za-z][^<>]*>`)
	entityRE   = regexp.MustCompile(`^&(#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);`)
)

// inline renders spans: code first (its content escaped and kept), then
// the rest escaped except inline HTML tags and entities.
func inline(s string) string {
	var codes []string
	s = codeRE.ReplaceAllStringFunc(s, func(m string) string {
		codes = append(codes, "<code>"+html.EscapeString(strings.TrimSpace(m[1:len(m)-1]))+"</code>")
		return "\x00" + string(rune('A'+len(codes)-1)) + "\x00"
	})
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '<':
			if m := tagRE.FindString(s[i:]); m != "" {
				b.WriteString(m)
				i += len(m) - 1
				continue
			}
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			if m := entityRE.FindString(s[i:]); m != "" {
				b.WriteString(m)
				i += len(m) - 1
				continue
			}
			b.WriteString("&amp;")
		default:
			b.WriteByte(s[i])
		}
	}
	s = b.String()
	s = autoLinkRE.ReplaceAllString(s, `<a href="$1">$1</a>`)
	s = linkRE.ReplaceAllStringFunc(s, func(m string) string {
		p := linkRE.FindStringSubmatch(m)
		title := ""
		if p[3] != "" {
			title = ` title="` + p[3] + `"`
		}
		return `<a href="` + p[2] + `"` + title + `>` + p[1] + `</a>`
	})
	s = strongRE.ReplaceAllString(s, "<strong>$2</strong>")
	s = emRE.ReplaceAllString(s, "<em>$2</em>")
	s = strings.ReplaceAll(s, "  \n", "<br />\n")
	for i, c := range codes {
		s = strings.Replace(s, "\x00"+string(rune('A'+i))+"\x00", c, 1)
	}
	return s
}
