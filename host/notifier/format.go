package notifier

import (
	"bytes"
	"html"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	gmhtml "github.com/yuin/goldmark/renderer/html"
	xhtml "golang.org/x/net/html"
)

// markdown renders Markdown as Apprise does with python-markdown's nl2br and
// tables extensions: single newlines become <br />.
var markdown = goldmark.New(
	goldmark.WithExtensions(extension.Table),
	goldmark.WithRendererOptions(gmhtml.WithHardWraps(), gmhtml.WithXHTML()),
)

// convert changes a body from one format (text, markdown, html) to another
// the way Apprise's core does before a service sees it.
func convert(body, from, to string) string {
	if from == to || from == "" || to == "" {
		return body
	}
	switch to {
	case "html":
		if from == "markdown" {
			var buf bytes.Buffer
			if err := markdown.Convert([]byte(body), &buf); err == nil {
				return strings.TrimSpace(buf.String())
			}
			return body
		}
		return textToHTML(body)
	case "text", "markdown":
		if from == "html" {
			return htmlToText(body)
		}
	}
	return body // text ↔ markdown: unchanged
}

// textToHTML escapes text and keeps its layout, as Apprise's text→html.
func textToHTML(s string) string {
	s = html.EscapeString(s)
	r := strings.NewReplacer("\r\n", "<br/>", "\n", "<br/>", "\t", "&emsp;", " ", "&nbsp;")
	return r.Replace(s)
}

// htmlToText strips tags, turning block ends and <br> into newlines.
func htmlToText(s string) string {
	z := xhtml.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	for {
		switch z.Next() {
		case xhtml.ErrorToken:
			return strings.TrimSpace(b.String())
		case xhtml.TextToken:
			b.Write(z.Text())
		case xhtml.StartTagToken, xhtml.SelfClosingTagToken, xhtml.EndTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6":
				if tt := z.Token().Type; tt != xhtml.StartTagToken || string(name) == "br" {
					b.WriteByte('\n')
				}
			}
		}
	}
}

// mergeTitle puts the title into the body for services without a title
// field, as Apprise does: HTML services get <b>TITLE</b><br />, markdown
// services with text input "# TITLE", others "TITLE" on its own line.
func mergeTitle(title, body, inFormat, native string) string {
	if title == "" {
		return body
	}
	switch {
	case native == "html":
		return "<b>" + convert(title, inFormat, "html") + "</b><br />\r\n" + body
	case native == "markdown" && inFormat == "text":
		return "# " + title + "\r\n" + body
	}
	return title + "\r\n" + body
}
