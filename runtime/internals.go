package runtime

import (
	"reflect"
	"unsafe"

	"github.com/tetratelabs/wazero/api"
)

// Where the host reaches into wazero's internals, for memory. It is written
// against wazero v1.12 (go.mod), finds its way with reflect by field name
// and gives up (nothing done, nothing broken) when the layout differs;
// TestFileBackedCode fails then, so a wazero upgrade cannot silently lose
// it.
//
// Machine code in file-backed pages.
//
// wazero copies a module's machine code into anonymous memory: every page
// of it is resident for as long as the module is loaded, ~14 MiB for a
// 3.5 MB standard-Go guest, although a call runs a small part of it (the
// Go runtime's start-up, encoding/json's type building, the transport's
// own code). After a guest's snapshot is taken, the host writes that code
// to a file in the cache folder, named by its content, and maps the file
// read-only over the same addresses (codemap_linux.go). The bytes at every
// address are the same before and after, so code running or about to run
// sees no change. From then on the code is like a shared library's text:
// pages come from the page cache when first run, only pages that calls run
// are resident, and the kernel may drop them under memory pressure and read
// them again later.

// moduleCode returns the machine code wazero compiled for the module that
// mod is an instance of, or nil when it cannot be found: another engine
// (the interpreter, the fallback runtime), or a wazero release whose
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

