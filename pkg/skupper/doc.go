// Package skupper holds vanlink's typed views of Skupper v2 (skupper.io/v2alpha1)
// objects over unstructured data: AccessGrant, AccessToken, Link and Site.
//
// Every accessor reads through unstructured.Nested* and reports malformed
// fields as a *FieldError naming the field; nothing panics on bad input.
// Grant validation, grant health (redemptions left, expiry) and AccessToken
// construction live here too. No error or String method ever includes a
// grant or token code.
package skupper
