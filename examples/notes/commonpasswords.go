package notes

import "strings"

// commonPasswords are frequent passwords of 12 or more characters from
// public breach-frequency lists, lowercased (shorter ones already fail the
// length rule). A production service should check a large breach corpus
// (NIST SP 800-63B §3.1.1.2 "passwords obtained from previous breach
// corpuses"); this short list only shows where that check belongs.
var commonPasswords = setOf(
	"123456789012", "1234567890123", "12345678901234", "123456789012345",
	"1234567890qwerty", "1q2w3e4r5t6y", "1q2w3e4r5t6y7u", "1qaz2wsx3edc", "1qaz2wsx3edc4rfv",
	"qwertyuiop12", "qwertyuiop123", "qwerty123456", "qwerty1234567", "qwertyuiopasdf",
	"qazwsxedcrfv", "zaq12wsxcde3", "asdfghjkl123", "zxcvbnm12345", "abcdefghijkl", "abc123456789",
	"password1234", "password12345", "password123!", "password2024", "password2025", "password2026",
	"p@ssw0rd1234", "p@ssword1234", "passw0rd1234", "p@ssw0rd123!", "password1!", "mypassword123",
	"iloveyou1234", "iloveyou123!", "welcome12345", "welcome123!!", "welcome@1234",
	"letmein12345", "letmein123!!", "changeme1234", "changeme123!", "administrator", "administrator1",
	"admin1234567", "admin@123456", "trustno1trustno1", "football1234", "baseball1234",
	"sunshine1234", "princess1234", "superman1234", "starwars1234", "dragon123456", "monkey123456",
	"michael12345", "jordan231234", "summer2024!!", "winter2024!!", "spring2025!!", "autumn2025!!",
)

// commonWords are the stems of the most guessed passwords. A password whose
// letters, after undoing the usual character substitutions, are exactly one
// of these ("P@ssw0rd2026!", "Welcome#12345") is refused however many
// digits and symbols surround it: that is the first thing a cracking rule
// set tries.
var commonWords = setOf(
	"password", "passwort", "qwerty", "qwertyuiop", "asdfgh", "asdfghjkl", "zxcvbnm", "welcome", "letmein",
	"admin", "administrator", "iloveyou", "monkey", "dragon", "sunshine", "princess", "football",
	"baseball", "master", "login", "trustno", "starwars", "superman", "changeme", "secret", "summer",
	"winter", "spring", "autumn", "rampart", "notes", "abc", "abcdef", "qwe", "qaz", "qazwsx", "zaq", "wsx",
)

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// deleet undoes the common substitutions (@→a, 4→a, 0→o, 1→i, !→i,
// 3→e, $→s, 5→s, 7→t) and keeps only ASCII letters.
func deleet(core string) string {
	var b strings.Builder
	for _, r := range core {
		switch r {
		case '@', '4':
			r = 'a'
		case '0':
			r = 'o'
		case '1', '!':
			r = 'i'
		case '3':
			r = 'e'
		case '$', '5':
			r = 's'
		case '7':
			r = 't'
		}
		if r >= 'a' && r <= 'z' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func notLetter(r rune) bool { return r < 'a' || r > 'z' }

// isCommonPassword reports whether lower (a lowercased password) is on the
// list, or is a common word, possibly with substitutions inside it
// ("p@ssw0rd"), padded before or after with digits and symbols.
func isCommonPassword(lower string) bool {
	if commonPasswords[lower] {
		return true
	}
	core := strings.TrimFunc(lower, notLetter)
	return commonWords[strings.Map(func(r rune) rune {
		if notLetter(r) {
			return -1
		}
		return r
	}, core)] || commonWords[deleet(core)]
}
