package runtime

import (
	"reflect"
	"unsafe"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// The two places the host reaches into wazero's internals, both for memory:
// together a used guest costs 9-12 MiB less (runtime/RATIONALE.md, "Memory
// per guest"). They are written against wazero v1.12 (go.mod). Both find
// their way with reflect by field name and give up (nothing done, nothing
// broken) when the layout differs; TestModuleCode and TestReleaseBodies
// fail then, so a wazero upgrade cannot silently lose them.
//
// Machine code in file-backed pages.
//
// wazero copies a module's machine code into anonymous memory: every page
// of it is resident for as long as the module is loaded, ~14 MiB for a
// 3.5 MB standard-Go guest, although a call runs a small part of it (the
// Go runtime's start-up, encoding/json's type building, the transport's
// own code). After a guest's snapshot is taken, the host writes that code
// to a file in the cache folder, named by its checksums, and maps the file
// read-only over the same addresses, in the background (codemap_linux.go,
// Engine.fileBackCodeLater). The bytes at every
// address are the same before and after, so code running or about to run
// sees no change. From then on the code is like a shared library's text:
// pages come from the page cache when first run, only pages that calls run
// are resident, and the kernel may drop them under memory pressure and read
// them again later.

// moduleCode returns the machine code wazero compiled for the module that
// mod is an instance of, or nil when it cannot be found: wazero's
// interpreter (CPUs its compiler does not support), or a wazero release whose
// internals differ from the one this was written against (v1.12, see
// go.mod). The path is api.Module (*wasm.ModuleInstance) → Engine
// (*wazevo.moduleEngine) → parent (*wazevo.compiledModule) → executables →
// executable ([]byte, from wazero's mmap). Reading unexported fields with
// reflect only reads; nothing here writes to wazero's structures. The code
// stays mapped for as long as mod's compiled module is open.
func moduleCode(mod api.Module) []byte {
	defer func() { _ = recover() }() // a changed layout: no code, not a crash
	v := reflect.ValueOf(mod)
	step := func(name string) bool {
		for v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return false
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return false
		}
		v = v.FieldByName(name)
		return v.IsValid()
	}
	for _, name := range []string{"Engine", "parent", "executables", "executable"} {
		if !step(name) {
			return nil
		}
	}
	if v.Kind() != reflect.Slice || v.Type().Elem().Kind() != reflect.Uint8 || v.Len() == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(v.Pointer())), v.Len())
}

// releaseBodies drops the wasm function bodies and local types wazero keeps
// in a compiled module's decoded wasm.Module (~2.4 MiB for a standard-Go
// guest, a copy of most of its .wasm file). In wazero v1.12 they are read
// only while compiling and validating, both inside CompileModule (its
// interpreter, used where the compiler is not supported, also compiles
// every function there); instantiating, calling, stack traces (which use
// BodyOffsetInCodeSection, kept) and Close never read them. It must be called right after CompileModule, before
// cm is shared. The path is wazero.CompiledModule (*wazero.compiledModule)
// → module (*wasm.Module) → CodeSection[i].{Body,LocalTypes}. It reports
// how many body bytes it released, or -1 when the layout differs.
func releaseBodies(cm wazero.CompiledModule) (released int) {
	defer func() {
		if recover() != nil {
			released = -1
		}
	}()
	v := reflect.ValueOf(cm)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return -1
	}
	m := v.Elem().FieldByName("module")
	if m.Kind() != reflect.Pointer || m.IsNil() || m.Elem().Kind() != reflect.Struct {
		return -1
	}
	cs := m.Elem().FieldByName("CodeSection")
	if cs.Kind() != reflect.Slice || cs.Type().Elem().Kind() != reflect.Struct {
		return -1
	}
	// CodeSection was reached through an unexported field: reflect will
	// not set it, so address it anew.
	cs = reflect.NewAt(cs.Type(), unsafe.Pointer(cs.UnsafeAddr())).Elem()
	for i := range cs.Len() {
		c := cs.Index(i)
		body, locals, goFunc := c.FieldByName("Body"), c.FieldByName("LocalTypes"), c.FieldByName("GoFunc")
		if body.Kind() != reflect.Slice || locals.Kind() != reflect.Slice || goFunc.Kind() != reflect.Interface {
			return -1
		}
		if !goFunc.IsNil() {
			continue
		}
		released += body.Len()
		body.SetZero()
		locals.SetZero()
	}
	return released
}
