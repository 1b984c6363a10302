package notes

import "database/sql"

// DBForTest exposes the pool so tests can check what was stored and that
// the tables survived injection probes.
func (s *Service) DBForTest() *sql.DB { return s.db }

// Internals the fuzz targets check against an independent reading.
var (
	ParseID          = parseID
	CheckStrictJSON  = func(data []byte, allowed []string) bool { return checkStrictJSON(data, allowed) == nil }
	LikePattern      = likePattern
	CheckPassword    = checkPassword
	IsCommonPassword = isCommonPassword
)
