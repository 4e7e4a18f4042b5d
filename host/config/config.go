package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// Config is a loaded and validated config file. It is not changed after
// Load or Parse return, so it may be shared between goroutines.
type Config struct {
	// File is the path of the file as given to Load or Parse ("" for Parse
	// without a name).
	File string
	// Server is [server], with defaults for every key not written.
	Server Server
	// Authorization is [authorization], empty when the section is absent.
	Authorization Authorization
	// Secrets is [secrets] and, after Load, the values of the secrets file.
	Secrets Secrets
	// Klippy is [klippy], with defaults when the section is absent.
	Klippy Klippy
	// Sections are the component sections ([notifier.NAME], [spoolman],
	// [analysis], [octoprint_compat], [plugins]) in the order the file
	// names them. Their keys are checked by each component's Decode.
	Sections []*Section

	secretsLine int // line of [secrets] path, for secrets file errors
}

// Server is the [server] section.
type Server struct {
	// Host is the address to listen on (host), default "127.0.0.1".
	Host string
	// Port is the TCP port to listen on (port), 1 to 65535, default 7125.
	Port int
	// DataPath is the data folder (data_path), default "~/printer_data",
	// with "~" expanded and a relative path joined to the config file's
	// folder.
	DataPath string
	// MaxUploadSize is the largest accepted upload in bytes
	// (max_upload_size), default 1 GiB.
	MaxUploadSize int64
	// EnableDebugEndpoints turns on /debug/... and debug.* methods
	// (enable_debug_endpoints), default false.
	EnableDebugEndpoints bool
	// MaxWebsocketMessageSize is the largest websocket message in bytes
	// (max_websocket_message_size), default 4 MiB.
	MaxWebsocketMessageSize int64
}

// Authorization is the [authorization] section.
type Authorization struct {
	// TrustedClients are the networks allowed in without an API key
	// (trusted_clients); a single address is a network of one (/32, /128).
	TrustedClients []netip.Prefix
	// CORSDomains are the origins browsers may call from (cors_domains),
	// with "*" wildcards as in Moonraker: "http://*.local".
	CORSDomains []string
}

// Secrets is the [secrets] section and the secrets file it names.
type Secrets struct {
	// Path is the secrets file (path), resolved like data_path; "" when the
	// section is absent.
	Path string
	// Values are the contents of the secrets file, which templates read as
	// `secrets`. Never nil; empty after Parse, filled by Load. JSON numbers
	// without a fraction are int64, like TOML integers.
	Values map[string]any
}

// Klippy is the [klippy] section.
type Klippy struct {
	// UDSAddress is Klippy's API socket (uds_address), default
	// "<data_path>/comms/klippy.sock".
	UDSAddress string
	// RequestTimeout bounds one request to Klippy (request_timeout, in
	// seconds), default 30 seconds.
	RequestTimeout time.Duration
}

// Defaults written in the example config; keep them in step.
const (
	defaultHost            = "127.0.0.1"
	defaultPort            = 7125
	defaultDataPath        = "~/printer_data"
	defaultMaxUploadSize   = 1024 * mib
	defaultMaxWebsocketMsg = 4 * mib
	defaultRequestTimeout  = 30.0 // seconds
)

// sectionKind describes one top-level section name.
type sectionKind struct {
	name      string
	core      bool // decoded and validated by this package
	instances bool // [name.INSTANCE], many of them
}

// kinds lists every top-level section in the order the example config
// documents them.
func kinds() []sectionKind {
	return []sectionKind{
		{name: "server", core: true},
		{name: "authorization", core: true},
		{name: "secrets", core: true},
		{name: "klippy", core: true},
		{name: "notifier", instances: true},
		{name: "spoolman"},
		{name: "analysis"},
		{name: "octoprint_compat"},
		{name: "plugins"},
	}
}

// Load reads the config file at path, parses and validates it, then reads
// the secrets file that [secrets] names. On failure it returns Errors
// holding every problem found, each with file and line where known.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: "cannot read the config file: " + ioReason(err), err: err}}
	}
	c, errs := parse(path, data)
	if c != nil && c.Secrets.Path != "" && !hasSection(errs, "secrets") {
		values, serrs := loadSecrets(path, c.Secrets.Path, c.secretsLine)
		c.Secrets.Values = values
		errs = append(errs, serrs...)
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse parses and validates a config file held in memory. name is used in
// messages and relative paths are resolved against its folder. Parse reads
// no files: the secrets file is only read by Load.
func Parse(name string, data []byte) (*Config, error) {
	c, errs := parse(name, data)
	if err := errs.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// Section returns the component section with the given name, such as
// "spoolman" or "notifier.phone", or nil when the file does not have it.
func (c *Config) Section(name string) *Section {
	for _, s := range c.Sections {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// SectionsOf returns the sections of one kind in file order: "notifier"
// gives every [notifier.NAME].
func (c *Config) SectionsOf(kind string) []*Section {
	var out []*Section
	for _, s := range c.Sections {
		if s.Kind == kind {
			out = append(out, s)
		}
	}
	return out
}

// parser holds the state of one Parse call.
type parser struct {
	file  string
	dir   string
	doc   map[string]any
	index *lineIndex
	errs  Errors
}

// parse returns the config and every problem; the config is nil only when
// the file is not valid TOML.
func parse(name string, data []byte) (*Config, Errors) {
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		return nil, Errors{syntaxError(name, err)}
	}
	p := &parser{file: name, dir: filepath.Dir(name), doc: doc, index: buildIndex(data)}
	c := &Config{File: name, Secrets: Secrets{Values: map[string]any{}}}

	known := kinds()
	names := make([]string, len(known))
	for i, k := range known {
		names[i] = k.name
	}
	raw := map[string]map[string]any{}
	for _, key := range p.keysInOrder(nil, doc) {
		value := doc[key]
		i := slices.IndexFunc(known, func(k sectionKind) bool { return k.name == key })
		table, isTable := value.(map[string]any)
		switch {
		case i < 0 && isTable:
			p.unknownSection(key, names)
		case i < 0:
			p.unknownTopKey(key, names)
		case !isTable:
			header := key
			if known[i].instances {
				header = key + ".NAME"
			}
			p.add(&Error{Line: p.index.lineOf(keyPath{key}), Key: key,
				Msg: fmt.Sprintf("must be a section: write [%s] on a line of its own and its keys below it, got %s", header, describe(value))})
		case known[i].core:
			raw[key] = table
		case known[i].instances:
			p.instances(c, key, table)
		default:
			c.Sections = append(c.Sections, p.newSection(keyPath{key}, key, ""))
		}
	}
	p.server(c, raw["server"])
	p.authorization(c, raw["authorization"])
	p.secrets(c, raw["secrets"])
	p.klippy(c, raw["klippy"])
	slices.SortStableFunc(c.Sections, func(a, b *Section) int { return a.Line - b.Line })
	return c, p.errs
}

// add records a problem in the config file.
func (p *parser) add(e *Error) {
	e.File = p.file
	p.errs = append(p.errs, e)
}

// decoder returns a decoder for one of the core sections.
func (p *parser) decoder(section string) *decoder {
	return &decoder{file: p.file, section: section, base: keyPath{section}, index: p.index}
}

// keysInOrder returns the keys of table in the order the file writes them.
func (p *parser) keysInOrder(base keyPath, table map[string]any) []string {
	keys := sortedKeys(table)
	slices.SortStableFunc(keys, func(a, b string) int {
		return p.index.lineOf(base.child(a)) - p.index.lineOf(base.child(b))
	})
	return keys
}

// instances reads [kind.NAME] sections.
func (p *parser) instances(c *Config, kind string, table map[string]any) {
	example := kind + ".NAME"
	if len(table) == 0 {
		p.add(&Error{Line: p.index.lineOf(keyPath{kind}), Section: kind,
			Msg: fmt.Sprintf("each %s needs a name: write [%s] instead, e.g. [%s.phone]", kind, example, kind)})
		return
	}
	for _, name := range p.keysInOrder(keyPath{kind}, table) {
		path := keyPath{kind, name}
		if _, ok := table[name].(map[string]any); !ok {
			// One message for the section: every key has the same cause.
			p.add(&Error{Line: p.index.lineOf(path), Section: kind, Key: name,
				Msg: fmt.Sprintf("each %s needs a name: put its keys below a header like [%s], e.g. [%s.phone]", kind, example, kind)})
			return
		}
		c.Sections = append(c.Sections, p.newSection(path, kind, name))
	}
}

// newSection makes a component section from the table at path.
func (p *parser) newSection(path keyPath, kind, instance string) *Section {
	name := kind
	if instance != "" {
		name = kind + "." + instance
	}
	table := p.doc[kind].(map[string]any)
	if instance != "" {
		table = table[instance].(map[string]any)
	}
	return &Section{
		Name:     name,
		Kind:     kind,
		Instance: instance,
		Line:     p.index.lineOf(path),
		raw:      table,
		file:     p.file,
		path:     path,
		index:    p.index,
	}
}

// unknownSection reports a table that is no section of moonrelay, naming it
// as its first header writes it: [notifer.phone] rather than [notifer].
func (p *parser) unknownSection(key string, names []string) {
	shown := keyPath{key}
	line := p.index.lineOf(shown)
	for _, h := range p.index.headers {
		if h.path[0] == key {
			shown, line = h.path, h.line
			break
		}
	}
	msg := "unknown section"
	if s := suggest(key, names); s != "" {
		fixed := append(keyPath{s}, shown[1:]...)
		msg += fmt.Sprintf("; did you mean [%s]?", fixed)
	} else {
		msg += "; the sections are [" + strings.Join(names, "], [") + "]"
	}
	p.add(&Error{Line: line, Section: shown.String(), Msg: msg})
}

// unknownTopKey reports a key written above every section header.
func (p *parser) unknownTopKey(key string, names []string) {
	e := &Error{Line: p.index.lineOf(keyPath{key}), Key: key}
	for _, k := range coreKeys() {
		if slices.Contains(k.keys, key) {
			e.Msg = fmt.Sprintf("must be inside a section: move it below [%s]", k.section)
			p.add(e)
			return
		}
	}
	e.Msg = "unknown key; keys go below a section header such as [server]"
	if s := suggest(key, names); s != "" {
		e.Msg = fmt.Sprintf("unknown key; did you mean the section [%s]?", s)
	}
	p.add(e)
}

// coreKeys lists the keys of the sections this package validates, for the
// hint given when one of them is written outside its section.
func coreKeys() []struct {
	section string
	keys    []string
} {
	return []struct {
		section string
		keys    []string
	}{
		{"server", []string{"host", "port", "data_path", "max_upload_size", "enable_debug_endpoints", "max_websocket_message_size"}},
		{"authorization", []string{"trusted_clients", "cors_domains"}},
		{"secrets", []string{"path"}},
		{"klippy", []string{"uds_address", "request_timeout"}},
	}
}

// server decodes and checks [server].
func (p *parser) server(c *Config, table map[string]any) {
	keys := struct {
		Host                    string `toml:"host"`
		Port                    any    `toml:"port"`
		DataPath                string `toml:"data_path"`
		MaxUploadSize           any    `toml:"max_upload_size"`
		EnableDebugEndpoints    bool   `toml:"enable_debug_endpoints"`
		MaxWebsocketMessageSize any    `toml:"max_websocket_message_size"`
	}{
		Host:                    defaultHost,
		Port:                    int64(defaultPort),
		DataPath:                defaultDataPath,
		MaxUploadSize:           int64(defaultMaxUploadSize / mib),
		MaxWebsocketMessageSize: int64(defaultMaxWebsocketMsg / mib),
	}
	d := p.decoder("server")
	if table != nil {
		d.fields(nil, table, reflectValue(&keys))
	}
	s := &c.Server
	s.Host = keys.Host
	s.EnableDebugEndpoints = keys.EnableDebugEndpoints
	if strings.TrimSpace(keys.Host) == "" || strings.ContainsAny(keys.Host, " \t") {
		d.fail(keyPath{"host"}, `must be an address such as "127.0.0.1", or "0.0.0.0" to listen on every network, got %q`, keys.Host)
	}
	if n, ok := wholeNumber(keys.Port); ok && n >= 1 && n <= 65535 {
		s.Port = int(n)
	} else {
		d.fail(keyPath{"port"}, "must be a whole number from 1 to 65535, got %s", shortValue(keys.Port))
	}
	if keys.DataPath == "" {
		d.fail(keyPath{"data_path"}, `must not be empty; the default is %q`, defaultDataPath)
	} else {
		s.DataPath = p.path(d, keyPath{"data_path"}, keys.DataPath)
	}
	s.MaxUploadSize = positiveSize(d, keyPath{"max_upload_size"}, keys.MaxUploadSize)
	s.MaxWebsocketMessageSize = positiveSize(d, keyPath{"max_websocket_message_size"}, keys.MaxWebsocketMessageSize)
	p.errs = append(p.errs, d.errs...)
}

// positiveSize reads a size that must be more than zero bytes.
func positiveSize(d *decoder, key keyPath, v any) int64 {
	n, err := ParseSize(v)
	switch {
	case err != nil:
		d.fail(key, "%v", err)
	case n <= 0:
		d.fail(key, "must be more than 0 bytes, got %s", shortValue(v))
	}
	return n
}

// authorization decodes and checks [authorization].
func (p *parser) authorization(c *Config, table map[string]any) {
	var keys struct {
		TrustedClients []any `toml:"trusted_clients"`
		CORSDomains    []any `toml:"cors_domains"`
	}
	d := p.decoder("authorization")
	if table != nil {
		d.fields(nil, table, reflectValue(&keys))
	}
	a := &c.Authorization
	for i, v := range keys.TrustedClients {
		key := keyPath{"trusted_clients", i}
		s, _ := v.(string)
		prefix, err := parseClient(s)
		if err != nil {
			d.fail(key, `must be an address like "192.168.1.20" or a network like "192.168.1.0/24", got %s`, shortValue(v))
			continue
		}
		a.TrustedClients = append(a.TrustedClients, prefix)
	}
	for i, v := range keys.CORSDomains {
		key := keyPath{"cors_domains", i}
		s, isText := v.(string)
		switch {
		case !isText:
			d.mismatch(key, `an origin in quotes such as "http://*.local"`, v)
		case s == "":
			d.fail(key, `must not be empty; write an origin such as "http://*.local"`)
		case strings.ContainsFunc(s, isSpace):
			d.fail(key, `must not contain spaces; write an origin such as "http://*.local", got %q`, s)
		default:
			a.CORSDomains = append(a.CORSDomains, s)
		}
	}
	p.errs = append(p.errs, d.errs...)
}

func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
}

// parseClient reads "10.0.0.5" as a network of one and "10.0.0.0/24" as a
// network; host bits set in a network are cleared.
func parseClient(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// secrets decodes and checks [secrets]; Load reads the file.
func (p *parser) secrets(c *Config, table map[string]any) {
	if table == nil {
		return
	}
	var keys struct {
		Path string `toml:"path"`
	}
	d := p.decoder("secrets")
	d.fields(nil, table, reflectValue(&keys))
	key := keyPath{"path"}
	c.secretsLine = p.index.nearestLine(keyPath{"secrets", "path"})
	switch ext := strings.ToLower(filepath.Ext(keys.Path)); {
	case len(d.errs) > 0:
	case keys.Path == "":
		d.fail(key, `must name the secrets file, such as "secrets.json" or "secrets.toml"`)
	case ext != ".json" && ext != ".toml":
		d.fail(key, `must name a file ending in .json or .toml, got %q`, keys.Path)
	default:
		c.Secrets.Path = p.path(d, key, keys.Path)
	}
	p.errs = append(p.errs, d.errs...)
}

// klippy decodes and checks [klippy]; it runs after server for data_path.
func (p *parser) klippy(c *Config, table map[string]any) {
	keys := struct {
		UDSAddress     string `toml:"uds_address"`
		RequestTimeout any    `toml:"request_timeout"`
	}{RequestTimeout: defaultRequestTimeout}
	d := p.decoder("klippy")
	if table != nil {
		d.fields(nil, table, reflectValue(&keys))
	}
	k := &c.Klippy
	if keys.UDSAddress != "" {
		k.UDSAddress = p.path(d, keyPath{"uds_address"}, keys.UDSAddress)
	} else if c.Server.DataPath != "" {
		k.UDSAddress = filepath.Join(c.Server.DataPath, "comms", "klippy.sock")
	}
	var seconds float64
	switch t := keys.RequestTimeout.(type) {
	case int64:
		seconds = float64(t)
	case float64:
		seconds = t
	}
	// A day is far beyond any sensible wait and keeps the conversion exact.
	if seconds > 0 && seconds <= 86400 {
		k.RequestTimeout = time.Duration(seconds * float64(time.Second))
	} else {
		d.fail(keyPath{"request_timeout"}, "must be a number of seconds greater than 0 and at most 86400, got %s", shortValue(keys.RequestTimeout))
	}
	p.errs = append(p.errs, d.errs...)
}

// reflectValue returns the settable struct behind ptr.
func reflectValue(ptr any) reflect.Value {
	return reflect.ValueOf(ptr).Elem()
}

// path expands "~" and joins a relative path to the config file's folder.
func (p *parser) path(d *decoder, key keyPath, s string) string {
	switch {
	case s == "~" || strings.HasPrefix(s, "~/"):
		home, err := os.UserHomeDir()
		if err != nil {
			d.fail(key, "cannot expand ~ because the home folder is unknown; write the full path, got %q", s)
			return ""
		}
		s = filepath.Join(home, s[1:])
	case strings.HasPrefix(s, "~"):
		d.fail(key, "~user is not supported; write the full path, got %q", s)
		return ""
	case !filepath.IsAbs(s):
		s = filepath.Join(p.dir, s)
	}
	return filepath.Clean(s)
}

// syntaxError turns a go-toml error into a positioned message.
func syntaxError(file string, err error) *Error {
	var de *toml.DecodeError
	if !errors.As(err, &de) {
		return &Error{File: file, Msg: "syntax error: " + err.Error(), err: err}
	}
	line, _ := de.Position()
	msg := strings.TrimPrefix(de.Error(), "toml: ")
	if strings.HasPrefix(msg, "unexpected character U+000A at start of value") {
		msg = "a value is missing after '='"
	}
	return &Error{File: file, Line: line, Msg: "syntax error: " + msg, err: err}
}

// ioReason says why a file could not be read, without the Go call it came
// from.
func ioReason(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "file does not exist"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// hasSection reports whether a problem was found in the given section.
func hasSection(errs Errors, section string) bool {
	return slices.ContainsFunc(errs, func(e *Error) bool { return e.Section == section })
}
