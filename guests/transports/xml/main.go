// Command xml posts notifications as a SOAP 1.1 envelope, exactly as
// Apprise 1.9.8's xml:// plugin (custom_xml.py) does.
//
// URL forms:
//
//	xml://[user[:password]@]host[:port][/path]    http
//	xmls://[user[:password]@]host[:port][/path]   https
//
// Options: method=POST|GET|PUT|PATCH|DELETE|HEAD (default POST);
// +Name=value adds a request header; :Key=value renames one of the
// elements Version, Subject, Message and MessageType to value (removes it
// when value is empty) or adds an element (its name reduced to letters,
// digits, '_' and '-'); any : option also drops the xmlns:xsi schema
// attribute of Notification. user:password@ sends basic auth. Like
// Apprise's xml plugin, -name=value parameters are accepted but not sent.
//
// Request: METHOD http[s]://host[:port]/path with Content-Type:
// application/xml and the envelope below, values HTML-escaped, attachments
// in an <Attachments format="base64"> element. Any 2xx answer counts as
// sent.
package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/guests/sdk/apprise"
)

func init() {
	sdk.RegisterTransport(sdk.Manifest{
		Name:        "xml",
		Version:     "1.0.0",
		Schemes:     []string{"xml", "xmls"},
		UserHost:    true,
		Format:      "text",
		TitleMaxLen: 250,
		BodyMaxLen:  32768,
		Attachments: "any",
	}, transport{})
}

func main() {}

type transport struct{}

// envelope is Apprise's template, whitespace included; the XSD_URL, CORE
// and ATTACHMENTS markers are replaced.
const envelope = `<?xml version='1.0' encoding='utf-8'?>
<soapenv:Envelope
    xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
    <soapenv:Body>
        <Notification{{XSD_URL}}>
            {{CORE}}
            {{ATTACHMENTS}}
       </Notification>
    </soapenv:Body>
</soapenv:Envelope>`

const xsdURL = "https://raw.githubusercontent.com/caronc/apprise/master/apprise/assets/NotifyXML-1.1.xsd"

// escape is Apprise's escape_html(whitespace=False): xml.sax.saxutils
// escape plus quotes.
var escape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&apos;", `"`, "&quot;").Replace

var notName = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// Validate checks a notifier URL when the configuration loads.
func (transport) Validate(req *sdk.ValidateRequest) sdk.ValidateResult {
	w, err := apprise.ParseWebhook(req.URL, "xml")
	if err != nil {
		return sdk.ValidateResult{Error: err.Error()}
	}
	return w.Validate()
}

// Send delivers one message.
func (transport) Send(req *sdk.SendRequest) sdk.SendResult {
	w, err := apprise.ParseWebhook(req.URL, "xml")
	if err != nil {
		return sdk.FailPermanent(err.Error())
	}
	notifyType := req.NotifyType
	if notifyType == "" {
		notifyType = "info"
	}
	names := map[string]string{"Version": "Version", "Subject": "Subject", "Message": "Message", "MessageType": "MessageType"}
	var extras apprise.Object
	overridden := false
	for _, e := range w.Payload {
		key := notName.ReplaceAllString(e.Key, "")
		if key == "" {
			sdk.Logf(sdk.LevelWarn, "xml: ignoring :%s, not an XML element name", e.Key)
			continue
		}
		overridden = true
		if _, ok := names[key]; ok {
			names[key] = e.Value.(string)
		} else {
			extras.Set(key, e.Value)
		}
	}
	var elems apprise.Object
	for _, f := range [][2]string{{"Version", "1.1"}, {"Subject", escape(req.Title)}, {"Message", escape(req.Body)}, {"MessageType", escape(notifyType)}} {
		if n := names[f[0]]; n != "" {
			elems.Set(n, f[1])
		}
	}
	for _, e := range extras {
		elems.Set(e.Key, escape(e.Value.(string)))
	}
	var core strings.Builder
	for _, e := range elems {
		fmt.Fprintf(&core, "<%s>%s</%s>", e.Key, e.Value, e.Key)
	}

	attachments := ""
	if len(req.Attachments) > 0 {
		var b strings.Builder
		b.WriteString(`<Attachments format="base64">`)
		for i, a := range req.Attachments {
			data, err := io.ReadAll(sdk.Attachment(a.ID))
			if err != nil {
				return sdk.Fail(fmt.Sprintf("xml: attachment %s: %v", a.Name, err))
			}
			fmt.Fprintf(&b, `<Attachment filename="%s" mimetype="%s">`, escape(apprise.AttachmentName(a, i+1)), escape(apprise.AttachmentMIME(a)))
			b.WriteString(base64.StdEncoding.EncodeToString(data))
			b.WriteString("</Attachment>")
		}
		b.WriteString("</Attachments>")
		attachments = b.String()
	}
	xsd := ""
	if !overridden {
		xsd = ` xmlns:xsi="` + xsdURL + `"`
	}
	body := strings.NewReplacer("{{XSD_URL}}", xsd, "{{CORE}}", core.String(), "{{ATTACHMENTS}}", attachments).Replace(envelope)

	headers, err := w.RequestHeaders([2]string{"Content-Type", "application/xml"})
	if err != nil {
		return sdk.FailPermanent("xml: " + err.Error())
	}
	return apprise.Do("xml", sdk.HTTPRequest{Method: w.Method, URL: w.URL(), Headers: headers, Body: []byte(body)})
}
