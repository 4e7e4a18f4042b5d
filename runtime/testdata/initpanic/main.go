// Command initpanic traps in _initialize: its init registers a nil
// handler, which makes the SDK panic.
package main

import "github.com/moonrelay/moonrelay/guests/sdk"

func init() {
	sdk.RegisterTransport(sdk.Manifest{Name: "initpanic", Version: "1", Schemes: []string{"initpanic"}}, nil)
}

func main() {}
