package dbtest

import (
	"github.com/pressly/goose/v3"

	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/jobs"
)

// Migrations are the Go migrations that the application applies besides the SQL files of the
// dialect: River's schema (platform/jobs).
func Migrations(d db.Dialect) []*goose.Migration { return jobs.Migrations(d) }
