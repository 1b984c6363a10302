package keys

import "context"

// Tick runs one Run iteration (generation check, due schedule steps), so
// tests drive the schedule with an injected clock instead of waiting.
func (m *Manager) Tick(ctx context.Context) error { return m.tick(ctx) }
