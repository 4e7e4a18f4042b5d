package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/tetratelabs/wazero/api"
)

// globalExportPrefix names the exports exportGlobals adds: "mr.g0", "mr.g1"…
const globalExportPrefix = "mr.g"

// exportGlobals returns bin with every global (imported or defined)
// exported as mr.g<index>, so that the host can read and restore a guest's
// whole state — linear memory plus globals (Go keeps its stack pointer and
// current goroutine there) — without a wazero extension. A module it cannot
// parse is returned unchanged, for the compiler to report.
func exportGlobals(bin []byte) ([]byte, error) {
	if len(bin) < 8 || string(bin[:4]) != "\x00asm" {
		return bin, nil
	}
	var globals uint64
	exportAt, exportEnd := -1, -1
	for pos := 8; pos < len(bin); {
		start := pos
		id := bin[pos]
		pos++
		size, n := binary.Uvarint(bin[pos:])
		if n <= 0 || pos+n+int(size) > len(bin) {
			return bin, nil
		}
		pos += n
		payload := bin[pos : pos+int(size)]
		switch id {
		case 2: // imports: count imported globals
			g, err := countImportedGlobals(payload)
			if err != nil {
				return nil, fmt.Errorf("import section: %w", err)
			}
			globals += g
		case 6: // globals
			c, n := binary.Uvarint(payload)
			if n <= 0 {
				return nil, errors.New("global section: bad count")
			}
			globals += c
		case 7:
			exportAt, exportEnd = start, pos+int(size)
		}
		pos += int(size)
	}
	if globals == 0 {
		return bin, nil
	}
	var entries []byte
	var count uint64
	if exportAt >= 0 {
		_, n := binary.Uvarint(bin[exportAt+1:])
		payload := bin[exportAt+1+n : exportEnd]
		c, m := binary.Uvarint(payload)
		if m <= 0 {
			return nil, errors.New("export section: bad count")
		}
		count, entries = c, payload[m:]
	}
	var add []byte
	for i := uint64(0); i < globals; i++ {
		name := globalExportPrefix + strconv.FormatUint(i, 10)
		add = binary.AppendUvarint(add, uint64(len(name)))
		add = append(add, name...)
		add = append(add, 0x03) // global
		add = binary.AppendUvarint(add, i)
	}
	payload := binary.AppendUvarint(nil, count+globals)
	payload = append(payload, entries...)
	payload = append(payload, add...)
	sec := append([]byte{7}, binary.AppendUvarint(nil, uint64(len(payload)))...)
	sec = append(sec, payload...)
	out := make([]byte, 0, len(bin)+len(add)+8)
	if exportAt >= 0 {
		out = append(append(append(out, bin[:exportAt]...), sec...), bin[exportEnd:]...)
		return out, nil
	}
	return nil, errors.New("module has no export section")
}

// countImportedGlobals walks an import section's entries.
func countImportedGlobals(p []byte) (uint64, error) {
	cnt, n := binary.Uvarint(p)
	if n <= 0 {
		return 0, errors.New("bad count")
	}
	p = p[n:]
	var globals uint64
	skipName := func() bool {
		l, n := binary.Uvarint(p)
		if n <= 0 || n+int(l) > len(p) {
			return false
		}
		p = p[n+int(l):]
		return true
	}
	skipLimits := func() bool {
		if len(p) < 1 {
			return false
		}
		flag := p[0]
		p = p[1:]
		for k := 0; k < 1+int(flag&1); k++ {
			_, n := binary.Uvarint(p)
			if n <= 0 {
				return false
			}
			p = p[n:]
		}
		return true
	}
	for i := uint64(0); i < cnt; i++ {
		if !skipName() || !skipName() || len(p) < 1 {
			return 0, errors.New("truncated entry")
		}
		kind := p[0]
		p = p[1:]
		ok := true
		switch kind {
		case 0: // function: type index
			_, n := binary.Uvarint(p)
			ok = n > 0
			p = p[max(n, 0):]
		case 1: // table: reftype + limits
			ok = len(p) > 0
			if ok {
				p = p[1:]
				ok = skipLimits()
			}
		case 2: // memory
			ok = skipLimits()
		case 3: // global: valtype + mutability
			ok = len(p) >= 2
			if ok {
				p = p[2:]
				globals++
			}
		default:
			return 0, fmt.Errorf("unknown import kind %d", kind)
		}
		if !ok {
			return 0, errors.New("truncated entry")
		}
	}
	return globals, nil
}

// snapshot is a guest's state after _initialize and the warm-up call: its
// linear memory (img) and the value of every mutable global.
type snapshot struct {
	img     memImage
	globals []uint64
}

// mutableGlobals returns an instance's exported mutable globals in index
// order.
func mutableGlobals(mod api.Module) []api.MutableGlobal {
	var out []api.MutableGlobal
	for i := 0; ; i++ {
		g := mod.ExportedGlobal(globalExportPrefix + strconv.Itoa(i))
		if g == nil {
			return out
		}
		if mg, ok := g.(api.MutableGlobal); ok {
			out = append(out, mg)
		}
	}
}

// takeSnapshot records inst's state; name labels the memory image.
func takeSnapshot(name string, inst *instance) (*snapshot, error) {
	mem := inst.mod.Memory()
	b, ok := mem.Read(0, mem.Size())
	if !ok {
		return nil, errors.New("memory unreadable")
	}
	s := &snapshot{img: newMemImage(name, b)}
	for _, g := range inst.globals {
		s.globals = append(s.globals, g.Get())
	}
	return s, nil
}

// size is the snapshot's memory length in bytes.
func (s *snapshot) size() uint64 { return s.img.size() }

// close releases the memory image; instances that mapped it keep their
// mappings until they are closed.
func (s *snapshot) close() {
	if s != nil {
		s.img.close()
	}
}

// errMemoryRange reports a restore outside the instance's memory.
var errMemoryRange = errors.New("memory range outside the instance's memory")

// restore puts inst back into the snapshot's state: memory as it was,
// memory grown since zero (Go's allocator expects fresh pages to be zero),
// globals restored. Afterwards nothing of the previous call remains.
func (s *snapshot) restore(ctx context.Context, inst *instance) error {
	mem := inst.mod.Memory()
	size := uint64(mem.Size())
	if size < s.size() {
		if _, ok := mem.Grow(uint32((s.size() - size) / 65536)); !ok {
			return errors.New("memory cannot grow to the snapshot's size")
		}
		size = uint64(mem.Size())
	}
	if len(inst.globals) != len(s.globals) {
		return errors.New("global count changed")
	}
	if err := s.img.restoreInto(inst.lin); err != nil {
		return err
	}
	if err := inst.lin.zeroFrom(s.size(), size); err != nil {
		return err
	}
	for i, g := range inst.globals {
		g.Set(s.globals[i])
	}
	return nil
}
