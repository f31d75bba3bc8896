//go:build tools

// Package tools pins the Temporal CLI so `go build` can produce the dev server binary
// from the Go module proxy alone (release downloads are not reachable on every machine).
package tools

import _ "github.com/temporalio/cli/cmd/temporal"
