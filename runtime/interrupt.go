package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// stopExport names the global instrumentLoops adds: an i32 the host sets to
// 1 to stop the guest at its next loop iteration.
const stopExport = "mr.stop"

// errNotInstrumentable is returned for a module instrumentLoops cannot
// rewrite with certainty; the engine then runs it with wazero's own
// termination checks.
var errNotInstrumentable = errors.New("module not instrumentable")

// instrumentLoops returns bin with a deadline check at the top of every
// loop: a new mutable i32 global, exported as mr.stop, and after every
// `loop` opcode the sequence `global.get $stop; if; unreachable; end`.
// Setting mr.stop to 1 from the host makes the guest trap at its next
// iteration, so a guest that never returns is stopped at its deadline.
//
// wazero can do this itself (RuntimeConfig.WithCloseOnContextDone), but its
// check leaves machine code for Go on every loop iteration and every
// function entry: it made the Go guests 5–12× slower (a JSON decode 38 µs →
// 223 µs). A global load and a branch cost next to nothing.
//
// Every instruction is decoded, so no byte of an immediate is mistaken for
// an opcode; any opcode it does not know (SIMD, exceptions) or any
// malformed body returns errNotInstrumentable and the module runs with
// wazero's checks instead.
func instrumentLoops(bin []byte) ([]byte, error) {
	if len(bin) < 8 || string(bin[:4]) != "\x00asm" {
		return nil, errNotInstrumentable
	}
	type section struct {
		id      byte
		payload []byte
	}
	var secs []section
	var importedGlobals, definedGlobals uint64
	haveGlobals, haveExports, haveCode := false, false, false
	for pos := 8; pos < len(bin); {
		id := bin[pos]
		size, n := binary.Uvarint(bin[pos+1:])
		if n <= 0 || pos+1+n+int(size) > len(bin) {
			return nil, errNotInstrumentable
		}
		payload := bin[pos+1+n : pos+1+n+int(size)]
		pos += 1 + n + int(size)
		switch id {
		case 2:
			g, err := countImportedGlobals(payload)
			if err != nil {
				return nil, errNotInstrumentable
			}
			importedGlobals = g
		case 6:
			c, n := binary.Uvarint(payload)
			if n <= 0 {
				return nil, errNotInstrumentable
			}
			definedGlobals, haveGlobals = c, true
		case 7:
			haveExports = true
		case 10:
			haveCode = true
		}
		secs = append(secs, section{id, payload})
	}
	if !haveGlobals || !haveExports || !haveCode {
		return nil, errNotInstrumentable
	}
	stop := importedGlobals + definedGlobals
	check := []byte{0x23} // global.get stop; if (empty); unreachable; end
	check = binary.AppendUvarint(check, stop)
	check = append(check, 0x04, 0x40, 0x00, 0x0B)

	out := append([]byte(nil), bin[:8]...)
	for _, s := range secs {
		p := s.payload
		switch s.id {
		case 6: // globals: one more, mutable i32 = 0
			_, n := binary.Uvarint(p)
			np := binary.AppendUvarint(nil, definedGlobals+1)
			np = append(np, p[n:]...)
			p = append(np, 0x7F, 0x01, 0x41, 0x00, 0x0B)
		case 7: // exports: one more, the stop global
			c, n := binary.Uvarint(p)
			np := binary.AppendUvarint(nil, c+1)
			np = append(np, p[n:]...)
			np = binary.AppendUvarint(np, uint64(len(stopExport)))
			np = append(np, stopExport...)
			np = append(np, 0x03)
			p = binary.AppendUvarint(np, stop)
		case 10:
			var err error
			if p, err = instrumentCode(p, check); err != nil {
				return nil, err
			}
		}
		out = append(out, s.id)
		out = binary.AppendUvarint(out, uint64(len(p)))
		out = append(out, p...)
	}
	return out, nil
}

// instrumentCode rewrites a code section, inserting check after each loop.
func instrumentCode(p []byte, check []byte) ([]byte, error) {
	r := &reader{b: p}
	count := r.u()
	out := binary.AppendUvarint(make([]byte, 0, len(p)+len(p)/8), count)
	for i := uint64(0); i < count && r.err == nil; i++ {
		size := r.u()
		if r.err != nil || r.pos+int(size) > len(p) {
			return nil, errNotInstrumentable
		}
		body, err := instrumentBody(p[r.pos:r.pos+int(size)], check)
		if err != nil {
			return nil, err
		}
		r.pos += int(size)
		out = binary.AppendUvarint(out, uint64(len(body)))
		out = append(out, body...)
	}
	if r.err != nil || r.pos != len(p) {
		return nil, errNotInstrumentable
	}
	return out, nil
}

// instrumentBody rewrites one function body (locals, then instructions).
func instrumentBody(b []byte, check []byte) ([]byte, error) {
	r := &reader{b: b}
	decls := r.u()
	for i := uint64(0); i < decls && r.err == nil; i++ {
		r.u()
		r.byte()
	}
	if r.err != nil {
		return nil, errNotInstrumentable
	}
	out := make([]byte, 0, len(b)+64)
	out = append(out, b[:r.pos]...)
	for r.pos < len(b) {
		start := r.pos
		op := r.byte()
		isLoop := op == 0x03
		if !r.skipImmediates(op) {
			return nil, errNotInstrumentable
		}
		out = append(out, b[start:r.pos]...)
		if isLoop {
			out = append(out, check...)
		}
	}
	if r.err != nil || len(b) == 0 || b[len(b)-1] != 0x0B {
		return nil, errNotInstrumentable
	}
	return out, nil
}

// reader walks wasm bytes; the first error sticks.
type reader struct {
	b   []byte
	pos int
	err error
}

func (r *reader) byte() byte {
	if r.pos >= len(r.b) {
		r.err = errNotInstrumentable
		return 0
	}
	c := r.b[r.pos]
	r.pos++
	return c
}

// u reads an unsigned LEB128 of at most 64 bits.
func (r *reader) u() uint64 {
	v, n := binary.Uvarint(r.b[min(r.pos, len(r.b)):])
	if n <= 0 {
		r.err = errNotInstrumentable
		return 0
	}
	r.pos += n
	return v
}

// sleb skips a signed LEB128 of at most maxBytes bytes.
func (r *reader) sleb(maxBytes int) {
	for i := 0; i < maxBytes; i++ {
		if r.byte()&0x80 == 0 {
			return
		}
	}
	r.err = errNotInstrumentable
}

func (r *reader) skip(n int) {
	if r.pos+n > len(r.b) {
		r.err = errNotInstrumentable
		return
	}
	r.pos += n
}

// blockType skips a block type: empty, a value type, or a type index.
func (r *reader) blockType() {
	if r.pos >= len(r.b) {
		r.err = errNotInstrumentable
		return
	}
	switch r.b[r.pos] {
	case 0x40, 0x7F, 0x7E, 0x7D, 0x7C, 0x7B, 0x70, 0x6F:
		r.pos++
	default:
		r.sleb(5) // s33 type index
	}
}

// skipImmediates skips the immediates of op; false for an opcode this
// decoder does not know.
func (r *reader) skipImmediates(op byte) bool {
	switch {
	case op == 0x00 || op == 0x01 || op == 0x05 || op == 0x0B || op == 0x0F || op == 0x1A || op == 0x1B:
	case op >= 0x02 && op <= 0x04: // block, loop, if
		r.blockType()
	case op == 0x0C || op == 0x0D || op == 0x10 || op == 0x12 || op == 0xD2: // br, br_if, call, return_call, ref.func
		r.u()
	case op == 0x0E: // br_table
		n := r.u()
		if n > math.MaxInt32 {
			return false
		}
		for i := uint64(0); i <= n && r.err == nil; i++ {
			r.u()
		}
	case op == 0x11 || op == 0x13: // call_indirect, return_call_indirect
		r.u()
		r.u()
	case op == 0x1C: // select t*
		n := r.u()
		r.skip(int(min(n, math.MaxInt32)))
	case op >= 0x20 && op <= 0x26: // local.*, global.*, table.get/set
		r.u()
	case op >= 0x28 && op <= 0x3E: // loads and stores: memarg
		align := r.u()
		if align&0x40 != 0 { // multi-memory: memory index
			r.u()
		}
		r.u()
	case op == 0x3F || op == 0x40: // memory.size, memory.grow
		r.u()
	case op == 0x41:
		r.sleb(5)
	case op == 0x42:
		r.sleb(10)
	case op == 0x43:
		r.skip(4)
	case op == 0x44:
		r.skip(8)
	case op >= 0x45 && op <= 0xC4: // numeric and sign-extension
	case op == 0xD0: // ref.null
		r.skip(1)
	case op == 0xD1: // ref.is_null
	case op == 0xFC:
		switch sub := r.u(); {
		case sub <= 7: // saturating truncations
		case sub == 8 || sub == 10 || sub == 12 || sub == 14: // memory.init/copy, table.init/copy
			r.u()
			r.u()
		case sub == 9 || sub == 11 || sub == 13 || (sub >= 15 && sub <= 17):
			r.u()
		default:
			return false
		}
	default:
		return false
	}
	return r.err == nil
}

// describeInstrumentError is the warning logged for a guest that runs with
// wazero's checks.
func describeInstrumentError(file string, err error) string {
	return fmt.Sprintf("%s: loops not instrumented (%v); running with wazero's slower termination checks", file, err)
}
