// Each package is its own Vitest project; the root config adds the cluster global setup.
export default ["packages/*", "test-support"]
