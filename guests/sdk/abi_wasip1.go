//go:build wasip1

package sdk

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"time"
	"unsafe"
)

// ABI buffers. The host writes a call's input into inBuf through mr_alloc;
// outBuf holds the last result until the next export call; httpBuf receives
// responses and grows when the host says a response needs more room.
var (
	inBuf   []byte
	outBuf  []byte
	httpBuf []byte
)

//go:wasmexport mr_abi
func mrABI() uint32 { return ABIVersion }

// mrAlloc returns a buffer of size bytes for the next call's input. The
// buffer is valid until the next mr_alloc.
//
//go:wasmexport mr_alloc
func mrAlloc(size uint32) unsafe.Pointer {
	if cap(inBuf) < int(size) || cap(inBuf) == 0 {
		inBuf = make([]byte, max(int(size), 64))
	}
	inBuf = inBuf[:size]
	return unsafe.Pointer(unsafe.SliceData(inBuf[:cap(inBuf)]))
}

// mrSettle is called once by the host after its warm-up call, right
// before it snapshots the instance; every later call starts from that
// snapshot. It builds what the warm-up could not reach (the warm-up makes
// no host calls): encoding/json's codecs for the host-call types and the
// response buffer. Then it collects the garbage, so that calls start with
// heap room to spare and neither collect nor grow the memory.
//
//go:wasmexport mr_settle
func mrSettle() {
	_, _ = json.Marshal(HTTPRequest{Headers: [][2]string{{"", ""}}})
	_, _ = json.Marshal(SMTPRequest{To: []string{""}})
	_ = json.Unmarshal([]byte(`{"status":200,"headers":{"a":"b"}}`), new(HTTPResponse))
	if cap(httpBuf) == 0 {
		httpBuf = make([]byte, 64<<10)
	}
	inBuf, outBuf = nil, nil
	runtime.GC()
}

//go:wasmexport mr_describe
func mrDescribe() uint64 { return result(describe()) }

//go:wasmexport mr_validate
func mrValidate(ptr, n uint32) uint64 { return result(handleValidate(input(ptr, n))) }

//go:wasmexport mr_send
func mrSend(ptr, n uint32) uint64 { return result(handleSend(input(ptr, n))) }

//go:wasmexport mr_hook
func mrHook(ptr, n uint32) uint64 { return result(handleHook(input(ptr, n))) }

// input returns the call input the host wrote into inBuf. The host must pass
// the pointer mr_alloc returned; anything else yields no input.
func input(ptr, n uint32) []byte {
	if len(inBuf) == 0 || uint32(uintptr(unsafe.Pointer(unsafe.SliceData(inBuf)))) != ptr || int(n) > len(inBuf) {
		return nil
	}
	return inBuf[:n]
}

// result keeps b alive in outBuf and packs its address and length.
func result(b []byte) uint64 {
	outBuf = b
	if len(b) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b))))<<32 | uint64(len(b))
}

//go:wasmimport moonrelay log
func importLog(level uint32, msg string)

//go:wasmimport moonrelay now
func importNow() int64

//go:wasmimport moonrelay http_request
func importHTTP(req string, body unsafe.Pointer, bodyLen uint32, out unsafe.Pointer, outCap uint32) uint64

//go:wasmimport moonrelay http_last
func importHTTPLast(out unsafe.Pointer, outCap uint32) uint32

//go:wasmimport moonrelay last_error
func importLastError(out unsafe.Pointer, outCap uint32) uint32

//go:wasmimport moonrelay attachment_read
func importAttachmentRead(id uint32, offset uint64, buf unsafe.Pointer, bufCap uint32) int32

//go:wasmimport moonrelay kv_get
func importKVGet(key string, buf unsafe.Pointer, bufCap uint32) int32

//go:wasmimport moonrelay kv_set
func importKVSet(key string, val unsafe.Pointer, n uint32) int32

//go:wasmimport moonrelay smtp_send
func importSMTPSend(req string, msg unsafe.Pointer, msgLen uint32) uint32

func hostLog(level int, msg string) { importLog(uint32(level), msg) }

func hostNow() time.Time { return time.Unix(0, importNow()) }

func ptr(b []byte) unsafe.Pointer {
	if cap(b) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.SliceData(b[:cap(b)]))
}

func lastError() string {
	buf := make([]byte, 256)
	n := importLastError(ptr(buf), uint32(len(buf)))
	if int(n) > len(buf) {
		buf = make([]byte, n)
		n = importLastError(ptr(buf), uint32(len(buf)))
	}
	return string(buf[:min(int(n), len(buf))])
}

func hostHTTP(req HTTPRequest) (*HTTPResponse, error) {
	head, err := marshalHTTPRequest(req)
	if err != nil {
		return nil, err
	}
	if cap(httpBuf) == 0 {
		httpBuf = make([]byte, 64<<10)
	}
	out := httpBuf[:cap(httpBuf)]
	r := importHTTP(string(head), ptr(req.Body), uint32(len(req.Body)), ptr(out), uint32(len(out)))
	code, needed := uint32(r>>32), uint32(r)
	if code >= 600 {
		return nil, &HostError{Code: int(code), Message: lastError()}
	}
	if int(needed) > len(out) {
		httpBuf = make([]byte, needed)
		out = httpBuf
		if n := importHTTPLast(ptr(out), uint32(len(out))); n != needed {
			return nil, errors.New("sdk: host response changed size")
		}
	}
	return decodeResponse(out[:needed])
}

// decodeResponse splits the host's response layout: a 4-byte little-endian
// length H, H bytes of head JSON, then the raw body.
func decodeResponse(b []byte) (*HTTPResponse, error) {
	if len(b) < 4 {
		return nil, errors.New("sdk: short host response")
	}
	h := binary.LittleEndian.Uint32(b)
	if int(h) > len(b)-4 {
		return nil, errors.New("sdk: bad host response head")
	}
	var resp HTTPResponse
	if !decodeHTTPResponseHead(b[4:4+h], &resp) {
		resp = HTTPResponse{}
		if err := json.Unmarshal(b[4:4+h], &resp); err != nil {
			return nil, fmt.Errorf("sdk: bad host response head: %w", err)
		}
	}
	resp.Body = append([]byte(nil), b[4+h:]...)
	return &resp, nil
}

func hostKVGet(key string) ([]byte, error) {
	buf := make([]byte, 512)
	n := importKVGet(key, ptr(buf), uint32(len(buf)))
	if n == -1 {
		return nil, ErrNotFound
	}
	if n < 0 {
		return nil, &HostError{Code: CodeNoCapability, Message: lastError()}
	}
	if int(n) > len(buf) {
		buf = make([]byte, n)
		n = importKVGet(key, ptr(buf), uint32(len(buf)))
		if n < 0 || int(n) > len(buf) {
			return nil, errors.New("sdk: kv value changed during read")
		}
	}
	return buf[:n], nil
}

func hostKVSet(key string, val []byte) error {
	if importKVSet(key, ptr(val), uint32(len(val))) < 0 {
		return &HostError{Code: CodeBadRequest, Message: lastError()}
	}
	return nil
}

func hostAttachmentRead(id uint32, off int64, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n := importAttachmentRead(id, uint64(off), ptr(p), uint32(len(p)))
	if n < 0 {
		if n == -1 {
			return 0, ErrNotFound
		}
		return 0, &HostError{Code: CodeNetwork, Message: lastError()}
	}
	return int(n), nil
}

func hostSMTP(req SMTPRequest) (*SMTPReply, error) {
	head, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	code := int(importSMTPSend(string(head), ptr(req.Message), uint32(len(req.Message))))
	switch {
	case code >= 600:
		return nil, &HostError{Code: code, Message: lastError()}
	case code == 250:
		return &SMTPReply{Code: code}, nil
	}
	return &SMTPReply{Code: code, Message: lastError()}, nil
}
