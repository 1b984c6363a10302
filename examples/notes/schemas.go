package notes

import "embed"

// Schemas holds schemas/register.json and schemas/note.json, the JSON
// Schemas (2020-12) for the gateway's json_schema rule on this API's
// routes, embedded so a binary that runs the example in process (rampart
// serve --dev) can write them next to its gateway configuration. They
// state the same rules the service enforces; the service stays the
// stricter of the two (see the schemas' descriptions).
//
//go:embed schemas/register.json schemas/note.json
var Schemas embed.FS
