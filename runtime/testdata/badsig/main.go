// Command badsig exports mr_send with the wrong signature.
package main

import "unsafe"

var in, out []byte

//go:wasmexport mr_abi
func abi() uint32 { return 1 }

//go:wasmexport mr_alloc
func alloc(n uint32) unsafe.Pointer {
	in = make([]byte, n+1)
	return unsafe.Pointer(&in[0])
}

func pack(b []byte) uint64 {
	out = b
	return uint64(uintptr(unsafe.Pointer(&b[0])))<<32 | uint64(len(b))
}

//go:wasmexport mr_describe
func describe() uint64 {
	return pack([]byte(`{"name":"badsig","version":"1","kind":"transport","schemes":["badsig"]}`))
}

//go:wasmexport mr_validate
func validate(p, n uint32) uint64 { return pack([]byte(`{"ok":true}`)) }

//go:wasmexport mr_send
func send(p uint32) uint64 { return pack([]byte("\x00\xffthis is {not json")) }

func main() {}
