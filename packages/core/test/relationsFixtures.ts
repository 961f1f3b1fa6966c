/**
 * Models, tables and relations of the relation tests. Names are hostile on purpose: camelCase columns (folded to
 * lower case by PostgreSQL unless quoted) and reserved words (`order`, `from`, `user`, `group`) as columns.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Model from "../src/Model.js"
import * as Relations from "../src/Relations.js"
import * as Repository from "../src/Repository.js"

/** A user. */
export class Member extends Model.Class<Member>("Member")({
  id: Model.Generated(Schema.Int),
  name: Schema.String
}) {}

/** A user's profile (hasOne). */
export class Profile extends Model.Class<Profile>("Profile")({
  id: Model.Generated(Schema.Int),
  userId: Schema.Int,
  bio: Schema.String
}) {}

/** A post (hasMany from users, belongsTo its author). */
export class Post extends Model.Class<Post>("Post")({
  id: Model.Generated(Schema.Int),
  userId: Schema.NullOr(Schema.Int),
  title: Schema.String,
  order: Schema.Int
}) {}

/** A comment on a post (nested under posts). */
export class Comment extends Model.Class<Comment>("Comment")({
  id: Model.Generated(Schema.Int),
  postId: Schema.Int,
  from: Schema.String
}) {}

/** A tag (manyToMany through core_rel_user_tags). */
export class Tag extends Model.Class<Tag>("Tag")({
  id: Model.Generated(Schema.Int),
  label: Schema.String
}) {}

export const MemberRepo = Repository.make(Member, { table: "core_rel_users", idColumn: "id" })
export const ProfileRepo = Repository.make(Profile, { table: "core_rel_profiles", idColumn: "id" })
export const PostRepo = Repository.make(Post, { table: "core_rel_posts", idColumn: "id" })
export const CommentRepo = Repository.make(Comment, { table: "core_rel_comments", idColumn: "id" })
export const TagRepo = Repository.make(Tag, { table: "core_rel_tags", idColumn: "id" })

/** Posts with their comments and author. */
export const Posts = Relations.define(PostRepo, {
  comments: Relations.hasMany(CommentRepo, { from: "id", to: "postId" }),
  author: Relations.belongsTo(MemberRepo, { from: "userId", to: "id" })
})

/** Users with their posts (which have relations of their own), profile and tags. */
export const Members = Relations.define(MemberRepo, {
  posts: Relations.hasMany(Posts, { from: "id", to: "userId" }),
  profile: Relations.hasOne(ProfileRepo, { from: "id", to: "userId" }),
  tags: Relations.manyToMany(TagRepo, {
    from: "id",
    to: "id",
    through: { table: "core_rel_user_tags", from: "user", to: "group" }
  })
})

type Backend = "sqlite" | "postgres" | "mariadb"

const id: Record<Backend, string> = {
  sqlite: "id INTEGER PRIMARY KEY AUTOINCREMENT",
  postgres: "id SERIAL PRIMARY KEY",
  mariadb: "id INT AUTO_INCREMENT PRIMARY KEY"
}
const text = (b: Backend) => b === "mariadb" ? "VARCHAR(255)" : "TEXT"

/** Creates the tables anew. */
export const createTables = (sql: SqlClient.SqlClient, backend: Backend) => {
  const q = (name: string) => backend === "mariadb" ? `\`${name}\`` : `"${name}"`
  const tables = ["core_rel_user_tags", "core_rel_comments", "core_rel_posts", "core_rel_profiles", "core_rel_tags"]
  const statements = [
    ...tables.map((t) => `DROP TABLE IF EXISTS ${t}`),
    "DROP TABLE IF EXISTS core_rel_users",
    `CREATE TABLE core_rel_users (${id[backend]}, name ${text(backend)} NOT NULL)`,
    `CREATE TABLE core_rel_profiles (${id[backend]}, ${q("userId")} INT NOT NULL, bio ${text(backend)} NOT NULL)`,
    `CREATE TABLE core_rel_posts (${id[backend]}, ${q("userId")} INT NULL, title ${text(backend)} NOT NULL, ${
      q("order")
    } INT NOT NULL)`,
    `CREATE INDEX core_rel_posts_user ON core_rel_posts (${q("userId")})`,
    `CREATE TABLE core_rel_comments (${id[backend]}, ${q("postId")} INT NOT NULL, ${q("from")} ${
      text(backend)
    } NOT NULL)`,
    `CREATE TABLE core_rel_tags (${id[backend]}, label ${text(backend)} NOT NULL)`,
    `CREATE TABLE core_rel_user_tags (${q("user")} INT NOT NULL, ${q("group")} INT NOT NULL, PRIMARY KEY (${
      q("user")
    }, ${q("group")}))`
  ]
  return Effect.forEach(statements, (s) => sql.unsafe(s), { discard: true })
}

/** Empties the tables. */
export const emptyTables = (sql: SqlClient.SqlClient) =>
  Effect.forEach(
    [
      "core_rel_user_tags",
      "core_rel_comments",
      "core_rel_posts",
      "core_rel_profiles",
      "core_rel_tags",
      "core_rel_users"
    ],
    (t) => sql.unsafe(`DELETE FROM ${t}`),
    { discard: true }
  )

/** Links a user and a tag in the join table. */
export const tagUser = (sql: SqlClient.SqlClient, backend: Backend, user: number, tag: number) => {
  const q = (name: string) => backend === "mariadb" ? `\`${name}\`` : `"${name}"`
  return sql.unsafe(`INSERT INTO core_rel_user_tags (${q("user")}, ${q("group")}) VALUES (${user}, ${tag})`)
}
