// Authentication wire shapes: API-key → JWT exchange and the caller's identity.
import { Type, type Static } from '@sinclair/typebox'
import type { Plan as PlanT, PlanLimits as PlanLimitsT } from './common.js'
import { SessionUsage } from './sessions.js'

export const ApiKeyHeaders = Type.Object(
  { 'x-api-key': Type.String({ minLength: 1, maxLength: 256, description: 'Your API key' }) },
  { $id: 'ApiKeyHeaders' }
)

export const TokenResponse = Type.Object(
  {
    access_token: Type.String({ description: 'JWT to send as `Authorization: Bearer …` or `?token=` on the WebSocket' }),
    token_type: Type.Literal('Bearer'),
    expires_in: Type.Integer({ description: 'Seconds until the token expires' }),
    user_id: Type.String(),
    plan: Type.Unsafe<PlanT>(Type.Ref('Plan'))
  },
  {
    $id: 'TokenResponse',
    additionalProperties: false,
    examples: [{ access_token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJkZXYifQ.c2lnbmF0dXJl', token_type: 'Bearer', expires_in: 3600, user_id: 'dev', plan: 'professional' }]
  }
)
export type TokenResponse = Static<typeof TokenResponse>

/** Claims SimuTrador puts in (and requires of) every access token. */
export const TokenClaims = Type.Object(
  {
    sub: Type.String(),
    plan: Type.Unsafe<PlanT>(Type.Ref('Plan')),
    iss: Type.String(),
    aud: Type.String(),
    iat: Type.Integer(),
    exp: Type.Integer()
  },
  { $id: 'TokenClaims', additionalProperties: true }
)

export const Me = Type.Object(
  {
    user_id: Type.String(),
    plan: Type.Unsafe<PlanT>(Type.Ref('Plan')),
    limits: Type.Unsafe<PlanLimitsT>(Type.Ref('PlanLimits')),
    usage: Type.Composite([
      SessionUsage,
      Type.Object({ open_connections: Type.Integer({ minimum: 0, description: 'Open WebSocket connections' }) })
    ], { additionalProperties: false })
  },
  { $id: 'Me', additionalProperties: false }
)
export type Me = Static<typeof Me>

export const authSchemas = [ApiKeyHeaders, TokenResponse, TokenClaims, Me]
