package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/moonrelay/moonrelay/guests/sdk"
)

// abiVersion is the guest ABI this host speaks (mr_abi's answer).
const abiVersion = sdk.ABIVersion

// manifestCacheVersion changes whenever the load checks change, so a
// manifest cached by an older host is checked again.
const manifestCacheVersion = "moonrelay-guest-checks-1"

// sig is a function signature in wasm value types.
type sig struct{ params, results []api.ValueType }

func (s sig) String() string {
	f := func(ts []api.ValueType) string {
		names := make([]string, len(ts))
		for i, t := range ts {
			names[i] = api.ValueTypeName(t)
		}
		return strings.Join(names, ", ")
	}
	return "(" + f(s.params) + ") -> " + resultString(s.results, f)
}

func resultString(ts []api.ValueType, f func([]api.ValueType) string) string {
	if len(ts) == 1 {
		return f(ts)
	}
	return "(" + f(ts) + ")"
}

func (s sig) equal(p, r []api.ValueType) bool {
	return string(s.params) == string(p) && string(s.results) == string(r)
}

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// exportSigs lists every export the host may call, with its exact
// signature. The base exports are required of every guest; the handler
// exports are required by kind (requiredExports).
var exportSigs = map[string]sig{
	"_initialize": {},
	"mr_abi":      {nil, []api.ValueType{i32}},
	"mr_alloc":    {[]api.ValueType{i32}, []api.ValueType{i32}},
	"mr_describe": {nil, []api.ValueType{i64}},
	"mr_validate": {[]api.ValueType{i32, i32}, []api.ValueType{i64}},
	"mr_send":     {[]api.ValueType{i32, i32}, []api.ValueType{i64}},
	"mr_hook":     {[]api.ValueType{i32, i32}, []api.ValueType{i64}},
}

var baseExports = []string{"_initialize", "mr_abi", "mr_alloc", "mr_describe"}

var requiredExports = map[sdk.Kind][]string{
	sdk.KindTransport:    {"mr_validate", "mr_send"},
	sdk.KindSpoolmanHook: {"mr_hook"},
}

// checkExports verifies the memory export and the signature of every known
// export present, and that the base exports exist.
func checkExports(file string, cm wazero.CompiledModule) error {
	if _, ok := cm.ExportedMemories()["memory"]; !ok {
		return fmt.Errorf("%s: no exported memory \"memory\"; build with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared", file)
	}
	fns := cm.ExportedFunctions()
	for _, name := range baseExports {
		if _, ok := fns[name]; !ok {
			return fmt.Errorf("%s: missing export %s; build with -buildmode=c-shared and import guests/sdk", file, name)
		}
	}
	for name, def := range fns {
		want, ok := exportSigs[name]
		if ok && !want.equal(def.ParamTypes(), def.ResultTypes()) {
			got := sig{def.ParamTypes(), def.ResultTypes()}
			return fmt.Errorf("%s: export %s is %s, want %s", file, name, got, want)
		}
	}
	return nil
}

// checkImports verifies that the guest imports only WASI preview 1 and the
// moonrelay module, each moonrelay function with its exact signature.
func checkImports(file string, cm wazero.CompiledModule) error {
	for _, def := range cm.ImportedFunctions() {
		mod, name, _ := def.Import()
		switch mod {
		case "wasi_snapshot_preview1":
		case hostModule:
			want, ok := hostSigs[name]
			if !ok {
				return fmt.Errorf("%s: import %s.%s is not provided by this host", file, mod, name)
			}
			if !want.equal(def.ParamTypes(), def.ResultTypes()) {
				return fmt.Errorf("%s: import %s.%s is %s, want %s", file, mod, name, sig{def.ParamTypes(), def.ResultTypes()}, want)
			}
		default:
			return fmt.Errorf("%s: import %s.%s: guests may import only %s and wasi_snapshot_preview1", file, mod, name, hostModule)
		}
	}
	if len(cm.ImportedMemories()) > 0 {
		return fmt.Errorf("%s: imports a memory; guests must export their own", file)
	}
	return nil
}

var (
	nameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	schemeRE = regexp.MustCompile(`^[a-z][a-z0-9+.-]{0,31}$`)
	hostRE   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,62}\.)*[a-z0-9-]{1,63}$`)
)

// checkManifest verifies the fields the host relies on.
func checkManifest(file string, m *sdk.Manifest) error {
	var errs []string
	if !nameRE.MatchString(m.Name) {
		errs = append(errs, fmt.Sprintf("name %q must be 1-64 of a-z, 0-9, '-', '_'", m.Name))
	}
	if m.Version == "" {
		errs = append(errs, "version is empty")
	}
	switch m.Kind {
	case sdk.KindTransport:
		if len(m.Schemes) == 0 && len(m.NativeURLs) == 0 {
			errs = append(errs, "a transport must claim schemes or native_urls")
		}
		for i, s := range m.Schemes {
			if !schemeRE.MatchString(s) {
				errs = append(errs, fmt.Sprintf("schemes[%d] %q is not a lower-case URL scheme", i, s))
			}
		}
		for i, p := range m.NativeURLs {
			if !strings.HasPrefix(p, "https://") && !strings.HasPrefix(p, "http://") {
				errs = append(errs, fmt.Sprintf("native_urls[%d] %q must start with https:// or http://", i, p))
			}
		}
	case sdk.KindSpoolmanHook:
		if len(m.Events) == 0 {
			errs = append(errs, "a spoolman_hook must list events")
		}
	default:
		errs = append(errs, fmt.Sprintf("kind %q is not transport or spoolman_hook", m.Kind))
	}
	for i, h := range m.Hosts {
		if !hostRE.MatchString(h) {
			errs = append(errs, fmt.Sprintf("hosts[%d] %q is not a lower-case host name (no scheme, port, path or wildcard)", i, h))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: manifest: %s", file, strings.Join(errs, "; "))
	}
	return nil
}

// cachedManifest is what CacheDir/manifests/<sha256>.json holds for a file
// that passed every load check.
type cachedManifest struct {
	Checks   string       `json:"checks"`
	Manifest sdk.Manifest `json:"manifest"`
}

func (e *Engine) manifestPath(sum string) string {
	return filepath.Join(e.opts.CacheDir, "manifests", sum+".json")
}

// load reads, checks and prepares one guest file.
func (e *Engine) load(ctx context.Context, file string) (*guest, error) {
	bin, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	h := sha256.Sum256(bin)
	g := &guest{e: e, info: GuestInfo{File: file, Size: int64(len(bin)), SHA256: hex.EncodeToString(h[:])}}
	if e.opts.CacheDir != "" {
		if b, err := os.ReadFile(e.manifestPath(g.info.SHA256)); err == nil {
			var c cachedManifest
			if json.Unmarshal(b, &c) == nil && c.Checks == manifestCacheVersion && checkManifest(file, &c.Manifest) == nil {
				g.info.Manifest = c.Manifest
				g.init()
				return g, nil
			}
		}
	}
	if err := e.check(ctx, g, bin); err != nil {
		return nil, err
	}
	if e.opts.CacheDir != "" {
		b, _ := json.Marshal(cachedManifest{Checks: manifestCacheVersion, Manifest: g.info.Manifest})
		tmp := e.manifestPath(g.info.SHA256) + ".tmp"
		if os.WriteFile(tmp, b, 0o600) == nil {
			_ = os.Rename(tmp, e.manifestPath(g.info.SHA256))
		}
	}
	return g, nil
}

// compile compiles bin for the runtime of the given memory limit, using
// every core for the functions of this module. The module is rewritten
// first (loop checks, exported globals, data segments moved out: see
// interrupt.go, reset.go, datastrip.go); the data segments it returns must
// be written into an instance's memory before _initialize. check runs the
// import and export checks (a guest recompiled after its load check skips
// them: they build wazero's definitions of every function, ~0.7 MiB kept
// for as long as the module is).
func (e *Engine) compile(ctx context.Context, file string, bin []byte, memory uint64, check bool) (wazero.Runtime, wazero.CompiledModule, []dataSegment, error) {
	r, cm, segs, err := e.compileKeepBodies(ctx, file, bin, memory)
	if err != nil {
		return nil, nil, nil, err
	}
	if check {
		if err := errors.Join(checkImports(file, cm), checkExports(file, cm)); err != nil {
			return nil, nil, nil, errors.Join(err, cm.Close(ctx))
		}
	}
	if releaseBodies(cm) < 0 {
		e.logger.Debug("wasm function bodies kept: this wazero's layout differs from v1.12", "guest", file)
	}
	return r, cm, segs, nil
}

// compileKeepBodies is compile without the checks and without releasing
// the wasm function bodies (internals.go).
func (e *Engine) compileKeepBodies(ctx context.Context, file string, bin []byte, memory uint64) (wazero.Runtime, wazero.CompiledModule, []dataSegment, error) {
	checks := false
	if ib, err := instrumentLoops(bin); err == nil {
		bin = ib
	} else {
		checks = true
		e.logger.Warn(describeInstrumentError(file, err))
	}
	var segs []dataSegment
	if sb, s, ok := stripData(bin); ok {
		bin, segs = sb, s
	}
	r, err := e.runtimeFor(ctx, memory, checks)
	if err != nil {
		return nil, nil, nil, err
	}
	bin, err = exportGlobals(bin)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	cm, err := r.CompileModule(experimental.WithCompilationWorkers(ctx, numWorkers()), bin)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: compile: %w", file, err)
	}
	return r, cm, segs, nil
}

// check runs every load check on a guest seen for the first time: compile,
// imports and exports, instantiate (running _initialize), mr_abi,
// mr_describe, the manifest and the exports its kind needs. The checked
// instance becomes the guest's first ready instance.
func (e *Engine) check(ctx context.Context, g *guest, bin []byte) error {
	file := g.info.File
	r, cm, segs, err := e.compile(ctx, file, bin, e.opts.Limits.Memory, true)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, e.opts.Limits.CallTimeout)
	defer cancel()
	g.info.Name = filepath.Base(file) // until the manifest names it
	inst, err := g.instantiate(ctx, r, cm, e.opts.Limits, true, segs)
	if err != nil {
		return errors.Join(err, cm.Close(ctx))
	}
	fail := func(err error) error {
		return errors.Join(err, inst.mod.Close(ctx), cm.Close(ctx))
	}
	res, err := inst.call(ctx, inst.fn("mr_abi"))
	if err != nil {
		return fail(fmt.Errorf("%s: mr_abi: %w", file, err))
	}
	if v := uint32(res[0]); v != abiVersion {
		return fail(fmt.Errorf("%s: guest ABI version %d, this host speaks %d; rebuild it with this release's guests/sdk", file, v, abiVersion))
	}
	out, err := inst.invoke(ctx, g, "mr_describe", nil, e.opts.Limits.MaxResult)
	if err != nil {
		return fail(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	if err := dec.Decode(&g.info.Manifest); err != nil {
		return fail(fmt.Errorf("%s: mr_describe: manifest is not valid JSON: %w", file, err))
	}
	if err := checkManifest(file, &g.info.Manifest); err != nil {
		return fail(err)
	}
	fns := cm.ExportedFunctions()
	for _, name := range requiredExports[g.info.Kind] {
		if _, ok := fns[name]; !ok {
			return fail(fmt.Errorf("%s: a %s must export %s %s", file, g.info.Kind, name, exportSigs[name]))
		}
	}
	g.init()
	// The checked module is not kept: its machine code is tens of MiB, and
	// most built-in guests are never used. The guest compiles again (from
	// the disk cache) on first use.
	return errors.Join(inst.mod.Close(ctx), cm.Close(ctx))
}

// loadTimeout bounds instantiation done outside a call (start-up, refill).
const loadTimeout = 30 * time.Second

func sha256hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
