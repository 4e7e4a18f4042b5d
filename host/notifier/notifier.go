package notifier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/host/config"
	"github.com/moonrelay/moonrelay/host/jobstate"
	"github.com/moonrelay/moonrelay/host/klippy"
	"github.com/moonrelay/moonrelay/host/store"
	"github.com/moonrelay/moonrelay/host/template"
	"github.com/moonrelay/moonrelay/runtime"
	"github.com/moonrelay/moonrelay/templates"
)

// Guests is what the notifier needs from the WebAssembly runtime.
type Guests interface {
	ForURL(rawURL string) (runtime.GuestInfo, bool)
	Guests() []runtime.GuestInfo
	Validate(ctx context.Context, guest, rawURL string) (*sdk.ValidateResult, error)
	Send(ctx context.Context, guest string, req sdk.SendRequest, c runtime.Call) (*sdk.SendResult, error)
}

// Printer is what the notifier needs from the printer link.
type Printer interface {
	Subscribe(objects map[string][]string) *klippy.Subscription
	RegisterRemoteMethod(name string, h klippy.RemoteMethod) error
	QueryObjects(ctx context.Context, objects map[string][]string) (map[string]map[string]any, float64, error)
}

// Attachments resolves local attachment paths and print thumbnails.
type Attachments interface {
	// LocalFile returns the absolute path of a local attachment if it lies
	// inside a registered root, or an error saying why not.
	LocalFile(path string) (string, error)
	// Thumbnail returns the absolute path of the largest thumbnail embedded
	// in a gcodes-relative file, or "".
	Thumbnail(filename string) string
}

// Deps are what the notifier component uses.
type Deps struct {
	Logger      *slog.Logger
	Guests      Guests
	Store       *store.Store
	Templates   *template.Engine
	Printer     Printer
	Jobs        *jobstate.Tracker
	Attachments Attachments
	// ExtraHosts may be reached by every transport call (tests: loopback).
	ExtraHosts []string
	// Backoff is the first retry delay (default 2 s), doubled per attempt
	// up to MaxBackoff (default 5 min).
	Backoff, MaxBackoff time.Duration
	// HTTPClient fetches http(s) attachments (default: 5 s timeout).
	HTTPClient *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Warning is a notifier section that failed to load.
type Warning struct {
	Section string
	Err     error
}

// notifier is one loaded [notifier.NAME] section.
type notifier struct {
	name   string
	set    *settings
	url    string // rendered
	guest  runtime.GuestInfo
	hosts  []string
	masked string
	native string // the format the transport wants: its manifest's, or the URL's ?format=
	title  *template.Template
	body   *template.Template
	attach *template.Template

	queue *store.Queue
	wake  chan struct{}

	pauseMu    sync.Mutex
	pauseTimer *time.Timer
	pausedAt   time.Time
	pausedArgs []any // the held paused event's print_stats
	progress   progressState
}

// Manager is the notifier component: every loaded notifier, the event
// sources and the delivery workers.
type Manager struct {
	d         Deps
	log       *slog.Logger
	notifiers map[string]*notifier
	order     []string
	history   *history

	cancel context.CancelFunc
	wg     sync.WaitGroup

	// fin holds finished deliveries not yet written (see finish); finWake
	// tells the committer there are some.
	finMu         sync.Mutex
	fin           []finished
	finWake       chan struct{}
	finStop       chan struct{}
	committerDone chan struct{}
}

// New loads every [notifier.*] section. A section that fails is returned as
// a Warning and skipped; the others load.
func New(ctx context.Context, sections []*config.Section, d Deps) (*Manager, []Warning) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Backoff <= 0 {
		d.Backoff = 2 * time.Second
	}
	if d.MaxBackoff <= 0 {
		d.MaxBackoff = 5 * time.Minute
	}
	if d.HTTPClient == nil {
		d.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	m := &Manager{d: d, log: d.Logger.With("component", "notifier"), notifiers: map[string]*notifier{}}
	m.history = &history{st: d.Store, keep: 50, count: map[string]int{}}
	var warnings []Warning
	for _, sec := range sections {
		n, err := m.load(ctx, sec)
		if err != nil {
			warnings = append(warnings, Warning{Section: sec.Name, Err: err})
			m.log.Warn("notifier not loaded", "notifier", sec.Instance, "err", err)
			continue
		}
		m.notifiers[n.name] = n
		m.order = append(m.order, n.name)
	}
	return m, warnings
}

// load builds one notifier from its section.
func (m *Manager) load(ctx context.Context, sec *config.Section) (*notifier, error) {
	set, err := decode(sec)
	if err != nil {
		return nil, err
	}
	n := &notifier{name: sec.Instance, set: set, wake: make(chan struct{}, 1)}
	var errs config.Errors
	compile := func(key string, src *string, def string) *template.Template {
		text := def
		if src != nil {
			text = *src
		} else if text == "" {
			return nil
		}
		t, err := m.d.Templates.Compile(sec.Name+"."+key, text)
		if err != nil {
			var te *template.Error
			if errors.As(err, &te) && te.Line > 0 {
				errs = append(errs, sec.Errorf(key, "template error at line %d, column %d of the template: %s", te.Line, te.Column, te.Msg))
			} else {
				errs = append(errs, sec.Errorf(key, "template error: %v", err))
			}
			return nil
		}
		return t
	}
	defTitle, defBody := "", ""
	if set.Template == "default" {
		defTitle, defBody = templates.Title, templates.Body
	}
	urlTpl := compile("url", &set.URL, "")
	n.title = compile("title", set.Title, defTitle)
	n.body = compile("body", set.Body, defBody)
	n.attach = compile("attach", set.Attach, "")
	if len(errs) > 0 {
		return nil, errs
	}
	// The url is rendered once, with secrets only, as in Moonraker.
	u, err := urlTpl.Render(map[string]any{})
	if err != nil {
		return nil, sec.Errorf("url", "template error: %v", err)
	}
	if !urlRe.MatchString(u) {
		return nil, sec.Errorf("url", "%q is not a notification URL: it must start with scheme://, e.g. ntfy://ntfy.sh/topic", maskURL(u))
	}
	g, ok := m.d.Guests.ForURL(u)
	if !ok {
		return nil, sec.Errorf("url", "no transport handles %s:// URLs; known schemes: %s (add a .wasm transport to the plugins folder for others)",
			strings.SplitN(u, "://", 2)[0], strings.Join(knownSchemes(m.d.Guests), ", "))
	}
	vctx, cancel := context.WithTimeout(ctx, 2*time.Minute) // the first use may compile the guest
	defer cancel()
	vr, err := m.d.Guests.Validate(vctx, g.Name, u)
	if err != nil {
		return nil, sec.Errorf("url", "transport %s could not check the URL: %v", g.Name, err)
	}
	if !vr.OK {
		return nil, sec.Errorf("url", "%s (transport %s, %s)", vr.Error, g.Name, g.File)
	}
	n.url, n.guest, n.hosts = u, g, vr.Hosts
	n.native = g.Format
	if f := vr.Options["format"]; f == "text" || f == "markdown" || f == "html" {
		n.native = f
	}
	if n.native == "" {
		n.native = "text"
	}
	n.masked = vr.RedactedURL
	if n.masked == "" {
		n.masked = maskURL(u)
	}
	n.queue = m.d.Store.Queue("notifier/outbox/" + n.name)
	return n, nil
}

// looksLikeToken reports whether a URL's host part is a secret rather than
// a host name: longer than 8 characters, no dot, not a host:port.
func looksLikeToken(h string) bool {
	name := h
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		if _, err := strconv.Atoi(h[i+1:]); err == nil {
			name = h[:i]
		}
	}
	return len(name) > 8 && !strings.Contains(name, ".") && name != "localhost" && !strings.HasPrefix(name, "[")
}

func knownSchemes(g Guests) []string {
	var out []string
	for _, gi := range g.Guests() {
		if gi.Kind == sdk.KindTransport {
			out = append(out, gi.Schemes...)
		}
	}
	sort.Strings(out)
	return out
}

// maskURL hides what may be a secret in a URL: the password, a "host" that
// is really a token, and every path segment and query value longer than 8
// characters. Transports give a better redaction through Validate; this is
// the fallback.
func maskURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	if at := strings.LastIndex(strings.SplitN(rest, "/", 2)[0], "@"); at >= 0 {
		cred := rest[:at]
		if user, _, hasPw := strings.Cut(cred, ":"); hasPw {
			rest = user + ":****" + rest[at:]
		}
	}
	parts := strings.Split(rest, "/")
	// A host without a dot is no host name: tgram://BOT_TOKEN/…, discord://ID/…
	if h := parts[0][strings.LastIndex(parts[0], "@")+1:]; looksLikeToken(h) {
		parts[0] = parts[0][:len(parts[0])-len(h)] + h[:2] + "****"
	}
	for i := 1; i < len(parts); i++ {
		p, q, hasQ := strings.Cut(parts[i], "?")
		if len(p) > 8 {
			p = p[:2] + "****"
		}
		if hasQ {
			vals := strings.Split(q, "&")
			for j, kv := range vals {
				k, v, ok := strings.Cut(kv, "=")
				if ok && len(v) > 8 {
					vals[j] = k + "=****"
				}
			}
			p += "?" + strings.Join(vals, "&")
		}
		parts[i] = p
	}
	return scheme + "://" + strings.Join(parts, "/")
}

// Name is the component's name.
func (m *Manager) Name() string { return "notifier" }

// Names lists the loaded notifiers in config order.
func (m *Manager) Names() []string { return append([]string(nil), m.order...) }

// Start begins delivery (including what the outbox kept from before) and
// follows job events, Klippy state and the notify remote method.
func (m *Manager) Start(ctx context.Context) error {
	ctx, m.cancel = context.WithCancel(ctx)
	m.finWake = make(chan struct{}, 1)
	m.finStop = make(chan struct{})
	m.committerDone = make(chan struct{})
	go m.committer(m.finStop)
	for _, name := range m.order {
		n := m.notifiers[name]
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.worker(ctx, n)
		}()
	}
	if m.d.Printer != nil {
		if err := m.d.Printer.RegisterRemoteMethod("notify", m.remoteNotify); err != nil {
			return fmt.Errorf("register the notify remote method: %w", err)
		}
	}
	m.startEvents(ctx)
	return nil
}

// Close stops the workers and event followers; undelivered notifications
// stay in the outbox for the next start.
func (m *Manager) Close() error {
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
	if m.finStop != nil {
		close(m.finStop) // the committer writes what is left, then stops
		<-m.committerDone
		m.finStop = nil
	}
	for _, n := range m.notifiers {
		n.pauseMu.Lock()
		if n.pauseTimer != nil {
			n.pauseTimer.Stop()
		}
		n.pauseMu.Unlock()
	}
	return nil
}
