-- sources: tpch
-- Revenue (extended price less discount) and order lines per market segment and order year:
-- the three-table join + aggregate of the read-path benchmark (bench/join_paths.py).
SELECT
    c.c_mktsegment AS segment,
    year(o.o_orderdate) AS order_year,
    count(*) AS lines,
    sum(l.l_extendedprice * (1 - l.l_discount)) AS revenue
FROM tpch.lineitem AS l
JOIN tpch.orders AS o ON o.o_orderkey = l.l_orderkey
JOIN tpch.customer AS c ON c.c_custkey = o.o_custkey
WHERE o.o_orderdate >= CAST($date_from AS DATE)
  AND o.o_orderdate < CAST($date_to AS DATE)
GROUP BY ALL
ORDER BY segment, order_year
