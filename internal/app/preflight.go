package app

import (
	"fmt"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/gateway"
	"github.com/rampart-auth/rampart/internal/kms"
)

// Startup is what the start-up checks found: every *_env and *_file
// value, read once, and the parsed master key (nil in dev mode while the
// key is still to be generated).
type Startup struct {
	Resolved  *config.Resolved
	MasterKey *kms.MasterKey
}

// Preflight runs every check `rampart serve` makes before its first side
// effect (creating data_dir, the dev master key, the database, a signing
// key, the TLS CA), on a configuration that passed Validate: it resolves
// everything serve uses and parses the master key (every check of a
// client lives in Validate and Resolve). `rampart config check` runs
// exactly this function, so it is a dry run of serve's start and the two
// can never disagree on a configuration (issue 10, item 14).
// What it cannot know without side effects or the network (the database
// and Redis answering, the listen address being free) is checked by serve
// alone.
func Preflight(cfg *config.Config, env config.Env) (*Startup, error) {
	res, err := cfg.Resolve(env, config.NeedAll)
	if err != nil {
		return nil, err
	}
	// The route table, the JSON Schemas and the upstreams of the gateway:
	// what a reload checks too, so a table serve would refuse is refused
	// by config check first.
	if err := gateway.Check(cfg); err != nil {
		return nil, err
	}
	// The secret policies, compiled as serve compiles them.
	if _, err := SecretPolicies(cfg); err != nil {
		return nil, err
	}
	st := &Startup{Resolved: res}
	if res.MasterKey != nil {
		if st.MasterKey, err = LoadMasterKey(cfg, res, false, nil); err != nil {
			return nil, fmt.Errorf("config: master key: %w", err)
		}
	}
	return st, nil
}
