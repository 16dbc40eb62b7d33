package dbtest

import "github.com/pressly/goose/v3"

// Migrations are the Go migrations that the application applies besides the SQL files.
func Migrations() []*goose.Migration { return nil }
