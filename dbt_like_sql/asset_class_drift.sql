-- Weight per account and asset class against the model: every class the model targets
-- or bands, and every class the account holds. min/max are null where the model sets no
-- band; a weight within 1e-9 of a band edge is inside it (float noise is not a breach).
-- Weights are null for an account without a positive total value.
with class_targets as (
    select
        mt.model_id,
        sec.asset_class,
        fsum(mt.target_weight) as target_weight
    from model_targets as mt
    join securities as sec on mt.security_id = sec.security_id
    group by mt.model_id, sec.asset_class
),

class_holdings as (
    select
        h.account_id,
        h.asset_class,
        fsum(h.market_value) as market_value
    from holdings as h
    group by h.account_id, h.asset_class
),

account_classes as (
    select av.account_id, av.model_id, ct.asset_class
    from account_valuations as av
    join class_targets as ct on av.model_id = ct.model_id
    union
    select av.account_id, av.model_id, mb.asset_class
    from account_valuations as av
    join model_bands as mb on av.model_id = mb.model_id
    union
    select av.account_id, av.model_id, ch.asset_class
    from account_valuations as av
    join class_holdings as ch on av.account_id = ch.account_id
),

weighted as (
    select
        ac.account_id,
        ac.model_id,
        ac.asset_class,
        case
            when av.total_value > 0 then coalesce(ch.market_value, 0) / av.total_value
        end as weight,
        coalesce(ct.target_weight, 0) as target_weight,
        mb.min_weight,
        mb.max_weight
    from account_classes as ac
    join account_valuations as av on ac.account_id = av.account_id
    left join class_holdings as ch
        on ac.account_id = ch.account_id and ac.asset_class is not distinct from ch.asset_class
    left join class_targets as ct
        on ac.model_id = ct.model_id and ac.asset_class is not distinct from ct.asset_class
    left join model_bands as mb
        on ac.model_id = mb.model_id and ac.asset_class = mb.asset_class
)

select
    w.account_id,
    w.model_id,
    w.asset_class,
    w.weight,
    w.target_weight,
    w.min_weight,
    w.max_weight,
    w.weight - w.target_weight as drift,
    case
        when w.weight < w.min_weight - 1e-9 then 'below'
        when w.weight > w.max_weight + 1e-9 then 'above'
    end as breach
from weighted as w
order by w.account_id, w.asset_class
