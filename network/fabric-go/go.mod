// Pins Hyperledger Fabric v3.1.5 (commit 86c1172bec37) for `datachannels network up`.
// The module path has no /v3 suffix, so the tag is addressed by its pseudo-version.
// No Go code lives here: the `tool` lines keep `go mod tidy` from dropping Fabric.
module datachannels/fabric-go

go 1.26.4

require github.com/hyperledger/fabric v1.4.0-rc1.0.20260618074816-86c1172bec37

tool (
	github.com/hyperledger/fabric/cmd/configtxgen
	github.com/hyperledger/fabric/cmd/cryptogen
	github.com/hyperledger/fabric/cmd/orderer
	github.com/hyperledger/fabric/cmd/osnadmin
	github.com/hyperledger/fabric/cmd/peer
)
