package server

import (
	"net"
	"net/netip"
)

var loopbackAddr = netip.MustParseAddr("127.0.0.1")

// localTCP is 127.0.0.1:1234 for in-process requests.
var localTCP = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1234}
