import assert from "node:assert/strict";
import { test } from "node:test";

import { rustDisplay } from "../src/float-display.js";

/** Expected texts printed by Rust 1.95's `format!("{}", x)` for each f64. */
test("writes an f64 as Rust's Display does", () => {
  const cases = [
    [0, "0"],
    [-0, "-0"],
    [3, "3"],
    [-2.5, "-2.5"],
    [0.30000000000000004, "0.30000000000000004"],
    [1e21, "1000000000000000000000"],
    [123456789012345680000, "123456789012345680000"],
    [1e-7, "0.0000001"],
    [-2.5e-7, "-0.00000025"],
    [1.5e300, `15${"0".repeat(299)}`],
    [5e-324, `0.${"0".repeat(323)}5`],
    [NaN, "NaN"],
    [Infinity, "inf"],
    [-Infinity, "-inf"],
  ];
  for (const [value, expected] of cases) {
    assert.equal(rustDisplay(value), expected, String(value));
  }
});
