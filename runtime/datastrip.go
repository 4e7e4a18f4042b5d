package runtime

import (
	"encoding/binary"
	"errors"
)

// dataSegment is an active data segment of memory 0 at a constant offset.
type dataSegment struct {
	off  uint32
	data []byte
}

// stripData returns bin with an empty data section, and the segments it
// held. wazero keeps a module's decoded data segments for as long as the
// module is compiled and gives every instance its own table of them: for a
// Go guest (tens of thousands of small segments) ~4 MiB per module and
// ~1 MiB per instance, all to initialize memory that every instance but
// the first gets from the snapshot anyway. The host writes the segments
// into the first instance itself, before _initialize.
//
// Only active segments of memory 0 at i32.const offsets are moved, and only
// when the module has no data count section (so no memory.init or
// data.drop can refer to them); anything else returns ok false and the
// module is used as it is.
func stripData(bin []byte) (out []byte, segs []dataSegment, ok bool) {
	if len(bin) < 8 || string(bin[:4]) != "\x00asm" {
		return bin, nil, false
	}
	dataAt, dataEnd := -1, -1
	var payload []byte
	for pos := 8; pos < len(bin); {
		start := pos
		id := bin[pos]
		size, n := binary.Uvarint(bin[pos+1:])
		if n <= 0 || pos+1+n+int(size) > len(bin) {
			return bin, nil, false
		}
		pos += 1 + n + int(size)
		switch id {
		case 12: // data count: bulk memory instructions may name segments
			return bin, nil, false
		case 11:
			dataAt, dataEnd = start, pos
			payload = bin[pos-int(size) : pos]
		}
	}
	if dataAt < 0 {
		return bin, nil, false
	}
	segs, err := parseDataSection(payload)
	if err != nil {
		return bin, nil, false
	}
	out = make([]byte, 0, len(bin)-(dataEnd-dataAt)+3)
	out = append(out, bin[:dataAt]...)
	out = append(out, 11, 1, 0) // data section: zero segments
	out = append(out, bin[dataEnd:]...)
	return out, segs, true
}

var errDataSegment = errors.New("data segment not movable")

// parseDataSection reads a data section of active, memory-0, i32.const
// segments.
func parseDataSection(p []byte) ([]dataSegment, error) {
	r := &reader{b: p}
	count := r.u()
	if r.err != nil || count > uint64(len(p)) {
		return nil, errDataSegment
	}
	segs := make([]dataSegment, 0, count)
	for i := uint64(0); i < count; i++ {
		if flags := r.u(); flags != 0 || r.err != nil {
			return nil, errDataSegment
		}
		if r.byte() != 0x41 { // i32.const
			return nil, errDataSegment
		}
		off, n := sleb32(p[min(r.pos, len(p)):])
		if n <= 0 || off < 0 {
			return nil, errDataSegment
		}
		r.pos += n
		if r.byte() != 0x0B || r.err != nil {
			return nil, errDataSegment
		}
		size := r.u()
		if r.err != nil || r.pos+int(size) > len(p) {
			return nil, errDataSegment
		}
		segs = append(segs, dataSegment{off: uint32(off), data: p[r.pos : r.pos+int(size)]})
		r.pos += int(size)
	}
	if r.pos != len(p) {
		return nil, errDataSegment
	}
	return segs, nil
}

// sleb32 decodes a signed LEB128 of at most 5 bytes.
func sleb32(b []byte) (int32, int) {
	var v int64
	var shift uint
	for i := 0; i < 5 && i < len(b); i++ {
		c := b[i]
		v |= int64(c&0x7F) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			if v < -1<<31 || v > 1<<31-1 {
				return 0, -1
			}
			return int32(v), i + 1
		}
	}
	return 0, -1
}
