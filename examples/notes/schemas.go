package notes

import "embed"

// Schemas holds the JSON Schemas of the API's request bodies
// (schemas/register.json, schemas/note.json), for a gateway's json_schema
// rule: `rampart serve --dev` writes them beside its data.
//
//go:embed schemas/*.json
var Schemas embed.FS
