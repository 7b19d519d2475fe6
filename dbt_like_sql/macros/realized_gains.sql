-- The net realized gains of each account's sells in its period (losses count against
-- gains) and how many of those sells have no known gain (they add 0 to the sum, so a
-- count above 0 says the sum is incomplete). sells: rows like sell_gains' (account_id,
-- trade_date, realized_gain); periods: a row an account (account_id, first_day,
-- last_day, both days in). An account without a sell in its period has no row.
create macro realized_gains(sells, periods) as table
    select
        p.account_id,
        fsum(coalesce(s.realized_gain, 0)) as realized_gain,
        count(*) filter (where s.realized_gain is null) as unknown_gain_sells
    from query_table(periods) as p
    join query_table(sells) as s on p.account_id = s.account_id
    where s.trade_date >= p.first_day and s.trade_date <= p.last_day
    group by p.account_id
