package main

import "regexp"

// Secure modes of a mailto URL (?mode=), as Apprise names them.
const (
	modeInsecure = "insecure"
	modeSSL      = "ssl"
	modeStartTLS = "starttls"
)

// defaultPort is the port of each mode when the URL and the provider give
// none.
var defaultPort = map[string]int{modeStartTLS: 587, modeSSL: 465, modeInsecure: 25}

// provider holds the settings Apprise 1.9.8 applies when the sender's
// address is at a known mail service and the URL names no ?smtp= server.
type provider struct {
	name   string
	domain *regexp.Regexp // matched against the domain of user@host
	host   string         // SMTP server; "" keeps the URL's host
	port   int
	mode   string
	// login: "email" logs in with user@domain, "userid" with the bare
	// user, "" uses the user as written.
	login string
	// fromUser fills an empty sender's local part (local mail server).
	fromUser string
}

func domainRE(alternatives string) *regexp.Regexp {
	return regexp.MustCompile(`(?i)^(` + alternatives + `)$`)
}

// providers is Apprise 1.9.8's table (apprise/plugins/email/templates.py),
// first match wins. One deliberate difference: Apprise gives Yahoo port
// 465 with STARTTLS, which cannot work (465 is implicit TLS); here Yahoo
// uses implicit TLS on 465.
var providers = []provider{
	{"Google Mail", domainRE(`gmail\.com`), "smtp.gmail.com", 587, modeStartTLS, "email", ""},
	{"Yandex", domainRE(`yandex\.(com|ru|ua|by|kz|uz|tr|fr)`), "smtp.yandex.ru", 465, modeSSL, "userid", ""},
	{"Microsoft Hotmail", domainRE(`(hotmail|live)\.com(\.au)?`), "smtp-mail.outlook.com", 587, modeStartTLS, "email", ""},
	{"Microsoft Outlook", domainRE(`(smtp\.)?outlook\.com(\.au)?`), "smtp.outlook.com", 587, modeStartTLS, "email", ""},
	{"Microsoft Office 365", domainRE(`(smtp\.)?office365\.com`), "smtp.office365.com", 587, modeStartTLS, "", ""},
	{"Yahoo Mail", domainRE(`yahoo\.(ca|com)`), "smtp.mail.yahoo.com", 465, modeSSL, "email", ""},
	{"GMX Mail", domainRE(`gmx\.(com|net|de|at|ch|fr)`), "mail.gmx.com", 587, modeStartTLS, "email", ""},
	{"Fast Mail", domainRE(`fastmail\.(com|cn|co\.uk|com\.au|de|es|fm|fr|im|in|jp|mx|net|nl|org|se|to|tw|uk|us)`),
		"smtp.fastmail.com", 465, modeSSL, "email", ""},
	{"Fast Mail Extended Addresses", domainRE(fastmailExtended), "smtp.fastmail.com", 465, modeSSL, "email", ""},
	{"Zoho Mail", domainRE(`zoho(mail)?\.com`), "smtp.zoho.com", 587, modeStartTLS, "email", ""},
	{"SendGrid", domainRE(`(\.smtp)?sendgrid\.(com|net)`), "smtp.sendgrid.net", 465, modeSSL, "userid", ""},
	{"163.com", domainRE(`163\.com`), "smtp.163.com", 465, modeSSL, "email", ""},
	{"Foxmail.com", domainRE(`(foxmail|qq)\.com`), "smtp.qq.com", 587, modeStartTLS, "email", ""},
	{"Comcast.net", domainRE(`comcast\.net`), "smtp.comcast.net", 465, modeSSL, "email", ""},
	{"Local Mail Server", domainRE(`localhost(\.localdomain)?`), "", 0, "", "", "root"},
}

// fastmailExtended lists the other domains Fastmail serves.
const fastmailExtended = `123mail\.org|airpost\.net|eml\.cc|fmail\.co\.uk|fmgirl\.com|fmguy\.com|mailbolt\.com|mailcan\.com|` +
	`mailhaven\.com|mailmight\.com|ml1\.net|mm\.st|myfastmail\.com|proinbox\.com|promessage\.com|rushpost\.com|` +
	`sent\.(as|at|com)|speedymail\.org|warpmail\.net|xsmail\.com|150mail\.com|150ml\.com|16mail\.com|2-mail\.com|` +
	`4email\.net|50mail\.com|allmail\.net|bestmail\.us|cluemail\.com|elitemail\.org|emailcorner\.net|` +
	`emailengine\.(net|org)|emailgroups\.net|emailplus\.org|emailuser\.net|f-m\.fm|fast-email\.com|fast-mail\.org|` +
	`fastem\.com|fastemail\.us|fastemailer\.com|fastest\.cc|fastimap\.com|fastmailbox\.net|fastmessaging\.com|` +
	`fea\.st|fmailbox\.com|ftml\.net|h-mail\.us|hailmail\.net|imap-mail\.com|imap\.cc|imapmail\.org|inoutbox\.com|` +
	`internet-e-mail\.com|internet-mail\.org|internetemails\.net|internetmailing\.net|jetemail\.net|justemail\.net|` +
	`letterboxes\.org|mail-central\.com|mail-page\.com|mailandftp\.com|mailas\.com|mailc\.net|mailforce\.net|` +
	`mailftp\.com|mailingaddress\.org|mailite\.com|mailnew\.com|mailsent\.net|mailservice\.ms|mailup\.net|` +
	`mailworks\.org|mymacmail\.com|nospammail\.net|ownmail\.net|petml\.com|postinbox\.com|postpro\.net|` +
	`realemail\.net|reallyfast\.biz|reallyfast\.info|speedpost\.net|ssl-mail\.com|swift-mail\.com|the-fastest\.net|` +
	`the-quickest\.com|theinternetemail\.com|veryfast\.biz|veryspeedy\.net|yepmail\.net`

// providerHosts are the SMTP servers of the table, for the manifest.
func providerHosts() []string {
	var hs []string
	seen := map[string]bool{}
	for _, p := range providers {
		if p.host != "" && !seen[p.host] {
			seen[p.host] = true
			hs = append(hs, p.host)
		}
	}
	return hs
}
