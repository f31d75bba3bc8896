//go:build tools

// Package tools pins the Temporal server, its SQL schema tool and the Web UI server so `npm run cluster` can build
// them from the Go module proxy alone (no Docker engine, no release downloads). Kept apart from tools/temporal-cli:
// these modules move a few indirect versions the CLI's build must not see.
package tools

import (
	_ "github.com/temporalio/ui-server/v2/cmd/server"
	_ "go.temporal.io/server/cmd/server"
	_ "go.temporal.io/server/cmd/tools/sql"
)
